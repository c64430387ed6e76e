/** The CLI's Logger: one line per event on stderr, as text or JSON. */
import {LogLevel} from '../core/logger.js'
import type {LogFields, LogLevelName, Logger} from '../core/logger.js'

function formatValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v)
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s
}

export function createCliLogger(level: LogLevelName, json: boolean, write: (line: string) => void): Logger {
  const max = LogLevel[level]
  const emit = (name: LogLevelName, msg: string, fields?: LogFields): void => {
    if (LogLevel[name] > max) return
    const time = new Date().toISOString()
    if (json) {
      write(JSON.stringify({time, level: name, msg, ...fields}))
      return
    }
    let line = `${time} ${name.toUpperCase().padEnd(5)} ${msg}`
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${formatValue(v)}`
    write(line)
  }
  return {
    debugEnabled: max >= LogLevel.debug,
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
  }
}
