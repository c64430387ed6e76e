import type {IAuthPacket} from '../../protocol/codec.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import type {ClientConnection} from '../connection.js'

/**
 * AUTH (MQTT 5 §3.15). The broker offers no enhanced authentication: a CONNECT naming an
 * Authentication Method is refused with CONNACK 0x8C, so no method is ever agreed and
 * any AUTH afterwards is a protocol error (MQTT-3.15.2-1: the method must be the agreed one).
 */
export function handleAuth(client: ClientConnection, packet: IAuthPacket): void {
  const method = packet.properties?.authenticationMethod
  client.protocolViolation(
    ReasonCode.ProtocolError,
    method === undefined ? 'AUTH received, but no authentication method was agreed at CONNECT' : `AUTH with method "${method}", but no authentication method was agreed at CONNECT`,
  )
}
