/** Starts listeners through the scheme's Transport (transports.ts), loaded on first use. */
import type {ListenerConfig} from '../config.js'
import type {ListenHooks, Listener} from './types.js'
import {newListenerStats} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'
import {loadTransport} from './transports.js'

/** Starts one listener; `stats` lets a restarted listener keep its counters. */
export async function listen(config: ListenerConfig, hooks: ListenHooks, stats: ListenerStats = newListenerStats()): Promise<Listener> {
  return (await loadTransport(config.scheme)).listen(config, hooks, stats)
}
