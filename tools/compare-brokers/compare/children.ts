/**
 * Every process the comparison starts goes through here, so that one place can stop them
 * all: on normal exit, on errors, and on Ctrl-C.
 */
import {spawn} from 'node:child_process'
import type {ChildProcess, SpawnOptions} from 'node:child_process'

const live = new Set<ChildProcess>()
let stopping = false

/** True once Ctrl-C (or SIGTERM) arrived: start nothing new. */
export function isStopping(): boolean {
  return stopping
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

/** The line of a child's stderr that says what went wrong: its first "…Error: …" line, else its last line. */
export function errorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  return lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.at(-1) ?? ''
}

/** spawn(), remembered until the child exits. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  if (stopping) throw new Error('stopping: no new processes')
  const child = spawn(command, args, options)
  live.add(child)
  child.once('exit', () => live.delete(child))
  // A failed spawn (ENOENT…) is reported by the caller through 'exit'/'error'; never crash here.
  child.on('error', () => live.delete(child))
  return child
}

/**
 * Asks the child to stop, then SIGKILL after `graceMs`; resolves once it is gone. A child
 * with an IPC channel is asked by closing the channel: it stops on 'disconnect', and an
 * open channel would keep its event loop alive after a SIGTERM.
 */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (!isRunning(child)) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    if (child.connected) child.disconnect()
    else child.kill('SIGTERM')
  })
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c)))
}

/** Synchronous last resort for process 'exit': no time left to wait for anyone. */
export function killAllChildrenNow(): void {
  for (const c of live) if (isRunning(c)) c.kill('SIGKILL')
}

/**
 * Ctrl-C or SIGTERM: stop every child, then exit with 128 + signal number. 'exit' covers
 * the paths where the script ends without reaching its own cleanup (an uncaught error).
 */
export function installCleanup(): void {
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    if (stopping) return
    stopping = true
    process.stderr.write(`\n${signal}: stopping the brokers…\n`)
    void stopAllChildren().finally(() => process.exit(code))
  }
  process.on('SIGINT', () => onSignal('SIGINT', 130))
  process.on('SIGTERM', () => onSignal('SIGTERM', 143))
  process.on('exit', killAllChildrenNow)
}
