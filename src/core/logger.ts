/** The core never prints: it logs through this interface, injected by the caller. */
export const LogLevel = {error: 0, warn: 1, info: 2, debug: 3} as const
export type LogLevelName = keyof typeof LogLevel

export type LogFields = Record<string, unknown>

export interface Logger {
  /** Checked on the hot path before building a debug message. */
  readonly debugEnabled: boolean
  error(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  debug(msg: string, fields?: LogFields): void
}

const noop = (): void => {}

export const noopLogger: Logger = Object.freeze({
  debugEnabled: false,
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
})

export function isLogLevel(value: string): value is LogLevelName {
  return Object.hasOwn(LogLevel, value)
}
