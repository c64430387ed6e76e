/** Scheme → transport. Loaded lazily so that a command pays only for what it uses. */
import type {ListenerConfig} from '../config.js'
import type {ListenHooks, Listener} from './types.js'
import {newListenerStats} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'

/** Starts one listener; `stats` lets a restarted listener keep its counters. */
export async function listen(config: ListenerConfig, hooks: ListenHooks, stats: ListenerStats = newListenerStats()): Promise<Listener> {
  switch (config.scheme) {
    case 'mqtt':
      return (await import('./tcp.js')).listenTcp(config, hooks, stats)
    case 'mqtts':
      return (await import('./tls.js')).listenTls(config, hooks, stats)
    case 'ws':
    case 'wss':
      return (await import('./ws.js')).listenWs(config, hooks, stats)
  }
}
