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

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    const exit = exitCodeFor(error)
    if (error instanceof MqttwsError) {
      if (!this.jsonEnabled()) {
        // One unwrapped line, so URLs and paths in it stay whole for copy and paste.
        process.stderr.write(`Error: ${cliMessage(error)}\n`)
        process.exitCode = exit
        throw new Errors.ExitError(exit)
      }
      const cli = new Errors.CLIError(cliMessage(error), {exit}) as Errors.CLIError & {exitCode?: number}
      cli.exitCode = exit
      return super.catch(cli)
    }
    // Text output reads oclif.exit, --json reads exitCode: keep both in step.
    error.exitCode ??= exit
    error.oclif = {...error.oclif, exit: error.oclif?.exit ?? exit}
    return super.catch(error)
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
