import type {Server} from 'node:net'
import type {ListenerConfig} from '../config.js'
import {listenError} from './listen-error.js'

/** Binds a server and resolves with the real port; rejects with an actionable TransportError. */
export function bind(server: Server, config: ListenerConfig): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening)
      reject(listenError(config, error))
    }
    const onListening = (): void => {
      server.off('error', onError)
      const addr = server.address()
      resolve(typeof addr === 'object' && addr ? addr.port : config.port)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen({host: config.host, port: config.port, exclusive: true})
  })
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
  })
}
