/** PUBACK, PUBREC, PUBREL, PUBCOMP: the QoS 1 and QoS 2 handshakes (MQTT 3.1.1 §4.3, 5.0 §4.3). */
import type {IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket} from '../../protocol/codec.js'
import {PacketType, encodeAck} from '../../protocol/encode.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import type {Client} from '../client.js'

export function handlePuback(client: Client, packet: IPubackPacket): void {
  const session = client.session!
  const id = packet.messageId ?? 0
  const entry = session.inflight.get(id)
  if (entry === undefined || entry.qos !== 1) return // unknown id: nothing to release (MQTT 5 allows ignoring)
  session.inflight.delete(id)
  client.broker.drainQueue(client)
}

export function handlePubrec(client: Client, packet: IPubrecPacket): void {
  const session = client.session!
  const id = packet.messageId ?? 0
  const entry = session.inflight.get(id)
  if (entry === undefined || entry.qos !== 2) {
    client.send(encodeAck(PacketType.PUBREL, id, client.version, ReasonCode.PacketIdentifierNotFound))
    return
  }
  if ((packet.reasonCode ?? 0) >= 0x80) {
    // MQTT 5: the receiver refused the message; the exchange ends here (MQTT-4.3.3-4 note).
    session.inflight.delete(id)
    client.broker.drainQueue(client)
    return
  }
  entry.state = 'pubrel'
  client.send(encodeAck(PacketType.PUBREL, id, client.version))
}

export function handlePubcomp(client: Client, packet: IPubcompPacket): void {
  const session = client.session!
  const id = packet.messageId ?? 0
  const entry = session.inflight.get(id)
  if (entry === undefined || entry.state !== 'pubrel') return
  session.inflight.delete(id)
  client.broker.drainQueue(client)
}

export function handlePubrel(client: Client, packet: IPubrelPacket): void {
  const id = packet.messageId ?? 0
  const known = client.session!.awaitingRel.delete(id)
  client.send(encodeAck(PacketType.PUBCOMP, id, client.version, known ? 0 : ReasonCode.PacketIdentifierNotFound))
}
