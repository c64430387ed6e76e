/** Scheme → transport. Loaded lazily so that a command pays only for what it uses. */
import type {ListenerConfig} from '../config.js'
import type {ListenHooks, Listener} from './types.js'

export async function listen(config: ListenerConfig, hooks: ListenHooks): Promise<Listener> {
  switch (config.scheme) {
    case 'mqtt':
      return (await import('./tcp.js')).listenTcp(config, hooks)
    case 'mqtts':
      return (await import('./tls.js')).listenTls(config, hooks)
    case 'ws':
    case 'wss':
      return (await import('./ws.js')).listenWs(config, hooks)
  }
}
