/**
 * A program in a real terminal: tmux runs it in a detached session on its own server
 * socket, the test types with send-keys and reads the screen with capture-pane, as a
 * person at a colour terminal would see it.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'

export function hasTmux(): boolean {
  return spawnSync('tmux', ['-V']).status === 0
}

export class TmuxSession {
  readonly socket = `mqttws-test-${randomBytes(4).toString('hex')}`
  readonly name = 't'

  /** Starts `command` (a shell command line) in a width × height terminal; the pane stays after it exits. */
  constructor(command: string, options: {width?: number; height?: number; env?: Record<string, string>} = {}) {
    const env = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')
    this.tmux(['new-session', '-d', '-s', this.name, '-x', String(options.width ?? 120), '-y', String(options.height ?? 30), `${env} ${command}; echo "[exit $?]"; sleep 30`])
  }

  private tmux(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], {encoding: 'utf8'})
  }

  /** The screen as text (with -e: with its colour escapes). */
  capture(escapes = false): string {
    return this.tmux(['capture-pane', '-p', '-t', this.name, ...(escapes ? ['-e'] : [])])
  }

  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', this.name, ...keys])
  }

  /** Polls the screen until `pattern` shows (bounded: at most timeoutMs). */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    let screen = ''
    for (let waited = 0; waited <= timeoutMs; waited += 50) {
      screen = this.capture()
      if (pattern.test(screen)) return screen
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`the terminal did not show ${pattern} within ${timeoutMs} ms; it shows:\n${screen}`)
  }

  close(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'])
  }
}
