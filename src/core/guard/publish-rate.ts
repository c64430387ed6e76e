/**
 * The per-client message and byte rate at PUBLISH (limits.messageRate, limits.byteRate):
 * a message over the rate is dropped (QoS 0) or refused (QoS 1/2: MQTT 5 PUBACK/PUBREC 0x97
 * Quota exceeded; 3.1.1 has no negative acknowledgement, so it is dropped), counted on the
 * listener, and the connection's reading pauses until its buckets refill (Resumer): the
 * client is slowed down, not buffered for. handlers/publish.ts calls it only when the client
 * has buckets (`client.rate`), so with the limits off it costs one check.
 */
import type {IPublishPacket} from '../protocol/codec.js'
import {PacketType} from '../protocol/encode.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import type {ClientConnection} from '../broker/connection.js'
import {admitMessage} from './rate-limit.js'

/** True when the PUBLISH is over the client's rate (and was answered here): the caller stops. */
export function overRate(client: ClientConnection, packet: IPublishPacket): boolean {
  const now = Date.now()
  if (admitMessage(client.rate!, packet.payload.length, now)) return false
  const stats = client.stats
  if (packet.qos === 0) {
    stats.rateDropped++
  } else {
    stats.rateRefused++
    if (client.version === 5) {
      client.ctx.flush.ack(client, packet.qos === 1 ? PacketType.PUBACK : PacketType.PUBREC, packet.messageId ?? 0, ReasonCode.QuotaExceeded)
    }
  }
  client.ctx.guard.resumer.pause(client, now)
  return true
}
