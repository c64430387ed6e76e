import type {IDisconnectPacket} from '../../protocol/codec.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import type {ClientConnection} from '../connection.js'

/**
 * A graceful DISCONNECT discards the Will (MQTT-3.14.4-3), except MQTT 5's reason 0x04
 * "disconnect with Will message". MQTT 5 may also change the session expiry here.
 */
export function handleDisconnect(client: ClientConnection, packet: IDisconnectPacket): void {
  const reason = packet.reasonCode ?? 0
  const expiry = packet.properties?.sessionExpiryInterval
  const session = client.session
  if (expiry !== undefined && session) {
    if (session.state.expiryInterval === 0 && expiry !== 0) {
      // MQTT-3.14.2-2: a session that ends with the connection cannot be extended at DISCONNECT.
      client.protocolViolation(ReasonCode.ProtocolError, 'DISCONNECT set a session expiry, but CONNECT asked for none')
      return
    }
    client.ctx.sessions.setExpiry(session, Math.min(expiry, client.ctx.limits.maxSessionExpiry))
  }
  client.graceful = reason !== ReasonCode.DisconnectWithWill
  client.close(undefined, reason === 0 ? 'client disconnected' : `client disconnected with reason 0x${reason.toString(16)}`)
}
