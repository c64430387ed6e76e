/**
 * Client side of every transport: mqtt://, mqtts://, ws://, wss://. Resolves with a
 * connected Duplex, or rejects with a TransportError that says what went wrong and what
 * to try (refused port, TLS certificate problem, WebSocket handshake answered 404/400/403).
 * The scheme's Transport (transports.ts) does the dialing; `ws` loads only for ws/wss.
 */
import {schemeOf} from './schemes.js'
import {loadTransport} from './transports.js'
import type {DialOptions, Dialed} from './types.js'

export {DEFAULT_PORTS, schemeOf} from './schemes.js'
export {handshakeError, socketError} from './dial-errors.js'
export {dialSocket} from './dial-socket.js'
export type {DialOptions, DialTls, Dialed} from './types.js'

export async function dial(url: URL, options: DialOptions = {}): Promise<Dialed> {
  const transport = await loadTransport(schemeOf(url))
  return transport.dial(url, options)
}
