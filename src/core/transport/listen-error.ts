import {ErrorCode, TransportError} from '../errors.js'
import {listenerUrl} from '../config.js'
import type {ListenerConfig} from '../config.js'

/** Turns a bind failure into an error that says what to do, with a port to try instead. */
export function listenError(config: ListenerConfig, error: NodeJS.ErrnoException): TransportError {
  const url = listenerUrl(config)
  const next = listenerUrl({...config, port: config.port === 0 ? 0 : config.port + 1})
  switch (error.code) {
    case 'EADDRINUSE':
      return new TransportError(`port ${config.port} is in use (EADDRINUSE): pick another port, e.g. ${next}`, {
        code: ErrorCode.LISTEN_ADDR_IN_USE,
        cause: error,
      })
    case 'EACCES':
      return new TransportError(
        `not allowed to listen on ${url} (EACCES): ports below 1024 need privileges; pick a port above 1023, e.g. ${listenerUrl({...config, port: config.port + 10000 > 65535 ? 0 : config.port + 10000})}`,
        {code: ErrorCode.LISTEN_ACCESS, cause: error},
      )
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new TransportError(
        `cannot listen on ${url}: host "${config.host}" is not an address of this machine (${error.code}); use 127.0.0.1, ::1 or 0.0.0.0`,
        {code: ErrorCode.LISTEN_ADDR_NOT_AVAIL, cause: error},
      )
    default:
      return new TransportError(`cannot listen on ${url}: ${error.message}`, {code: ErrorCode.LISTEN, cause: error})
  }
}
