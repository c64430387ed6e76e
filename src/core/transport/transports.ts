/**
 * Scheme → its Transport (listen and dial in one place), each loaded on first use so that a
 * command pays only for what it uses: `ws` and node:https stay unloaded without ws:// or wss://.
 */
import type {Scheme} from '../config.js'
import type {Transport} from './types.js'

export const TRANSPORTS: Readonly<Record<Scheme, () => Promise<Transport>>> = Object.freeze({
  mqtt: async () => (await import('./tcp.js')).mqttTransport,
  mqtts: async () => (await import('./tls.js')).mqttsTransport,
  ws: async () => (await import('./ws.js')).wsTransport,
  wss: async () => (await import('./ws.js')).wssTransport,
})

export function loadTransport(scheme: Scheme): Promise<Transport> {
  return TRANSPORTS[scheme]()
}
