/**
 * What every mqttws command shares: --log-level, error → exit-code mapping, and a
 * graceful stop on SIGINT/SIGTERM. Lives outside src/commands so oclif does not
 * register it as a command.
 */
import {Command, Errors, Flags} from '@oclif/core'
import {ErrorCode, MqttwsError} from '../core/errors.js'
import {LogLevel} from '../core/logger.js'
import type {LogLevelName} from '../core/logger.js'
import {exitCodeFor} from './exit-codes.js'
import {closest, familiarFlagHint} from './suggest.js'

type CommandError = Error & {exitCode?: number; oclif?: {exit?: number}; parse?: unknown; flags?: string[]; code?: string}

/** Core messages suggest values; on the command line, say which flag takes them. */
function cliMessage(error: MqttwsError): string {
  if (error.code === ErrorCode.LISTEN_ADDR_IN_USE) return error.message.replace('pick another port, e.g.', 'pick another with --listen')
  return error.message
}

export abstract class BaseCommand extends Command {
  static override baseFlags = {
    'log-level': Flags.option({
      options: Object.keys(LogLevel) as LogLevelName[],
      env: 'MQTTWS_LOG_LEVEL',
      helpGroup: 'GLOBAL',
      summary: 'Diagnostics written to stderr: error, warn, info (default) or debug.',
    })(),
  }

  /**
   * One way to fail for every command: a line on stderr that says what went wrong and what to
   * do (a mistyped flag gets the closest real one, not the whole help), or with --json one
   * small object on stdout, {"error": {"code", "message", "exit"}}; then the exit code.
   */
  protected override async catch(error: CommandError): Promise<unknown> {
    // this.exit(n) and a command's own early exits pass through untouched.
    if (error instanceof Errors.ExitError) throw error
    // Ctrl-C at a prompt: the user's choice, not an error (128 + SIGINT, as a shell reports it).
    if (error.name === 'ExitPromptError') {
      process.stderr.write('\n')
      process.exitCode = 130
      throw new Errors.ExitError(130)
    }
    // oclif reports a bad flag value as a plain Error "Parsing --qos \n\tExpected …".
    const badValue = /^Parsing (--[\w-]+)\s*\n\s*([^]*?)(?:\nSee more help with --help)?\s*$/.exec(error.message)
    const parse = error.parse !== undefined || badValue !== null
    if (badValue !== null) error.oclif = {exit: 2}
    const exit = exitCodeFor(error)
    const code = error instanceof MqttwsError ? error.code : parse ? ErrorCode.USAGE : ErrorCode.INTERNAL
    const hint = parse ? familiarFlagHint(this.argv) : undefined
    const message = hint ?? (error instanceof MqttwsError ? cliMessage(error) : badValue !== null ? `${badValue[1]}: ${badValue[2]}` : parse ? this.parseMessage(error) : error.message)
    process.exitCode = exit
    if (this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify({error: {code, message, exit}})}\n`)
    } else {
      // One unwrapped line, so URLs and paths in it stay whole for copy and paste.
      process.stderr.write(`Error: ${message}\n`)
      if (parse) process.stderr.write(`See \`${this.config.bin} ${this.id?.replaceAll(':', ' ') ?? ''} --help\`.\n`.replace(' --help', this.id ? ' --help' : '--help'))
      if (code === ErrorCode.INTERNAL && error.stack && process.env.DEBUG) process.stderr.write(`${error.stack}\n`)
    }
    throw new Errors.ExitError(exit)
  }

  /** oclif's parse error, without its "See more help" tail, and with the flag the user probably meant. */
  private parseMessage(error: CommandError): string {
    const text = error.message
      .replace(/\nSee more help with --help\s*$/, '')
      .replace(/^The following errors? occurred:\s*/, '')
      .replace(/\s*\n\s*/g, '; ')
      .trim()
    if (!Array.isArray(error.flags)) return text
    const known: string[] = []
    for (const [name, flag] of Object.entries(this.ctor.flags ?? {})) {
      known.push(`--${name}`)
      const char = (flag as {char?: string}).char
      if (char !== undefined) known.push(`-${char}`)
    }
    return error.flags
      .map((f) => {
        const guess = closest(f.split('=')[0], known)
        return `unknown flag ${f}${guess === undefined ? '' : `: did you mean ${guess}?`}`
      })
      .join('; ')
  }

  /**
   * Resolves when SIGINT or SIGTERM arrives. A second signal forces the exit, so a
   * stuck shutdown never traps the user.
   */
  protected untilSignal(onForce: () => void): Promise<NodeJS.Signals> {
    return new Promise((resolve) => {
      let count = 0
      const handler = (signal: NodeJS.Signals): void => {
        if (++count === 1) {
          // An open IPC channel would keep the process alive after a graceful stop.
          if (process.connected) process.disconnect()
          resolve(signal)
        } else onForce()
      }
      process.on('SIGINT', handler)
      process.on('SIGTERM', handler)
      // Started by another process over IPC (bench's embedded broker): stop when it goes away,
      // even if it was killed without a chance to stop us.
      if (process.connected) process.once('disconnect', () => handler('SIGTERM'))
    })
  }
}
