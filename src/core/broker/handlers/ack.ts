/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP: the QoS 1 and QoS 2 handshakes (MQTT 3.1.1 §4.3, 5.0 §4.3).
 * Each acknowledgement must fit the stage of its packet id: PUBACK only for QoS 1,
 * PUBREC and PUBCOMP only for QoS 2 in their turn; one of the wrong kind is a protocol
 * error (an unknown id is ignored, as MQTT 5 allows, or answered with 0x92).
 */
import type {IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket} from '../../protocol/codec.js'
import {PacketType} from '../../protocol/encode.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import type {ClientConnection} from '../connection.js'

export function handlePuback(client: ClientConnection, packet: IPubackPacket): void {
  const state = client.session!.state
  const id = packet.messageId ?? 0
  const entry = state.inflight?.get(id)
  if (entry === undefined) return // unknown id: nothing to release
  if (entry.qos !== 1) return wrongAck(client, 'PUBACK', id, 'a QoS 2 message (expected PUBREC)')
  client.ctx.store.inflightAck(state, id)
  client.ctx.delivery.drainQueue(client)
}

export function handlePubrec(client: ClientConnection, packet: IPubrecPacket): void {
  const ctx = client.ctx
  const state = client.session!.state
  const id = packet.messageId ?? 0
  const entry = state.inflight?.get(id)
  if (entry === undefined) {
    ctx.flush.ack(client, PacketType.PUBREL, id, ReasonCode.PacketIdentifierNotFound)
    return
  }
  if (entry.qos !== 2) return wrongAck(client, 'PUBREC', id, 'a QoS 1 message (expected PUBACK)')
  if ((packet.reasonCode ?? 0) >= 0x80) {
    // MQTT 5: the receiver refused the message; the exchange ends here (MQTT-4.3.3-4 note).
    ctx.store.inflightAck(state, id)
    ctx.delivery.drainQueue(client)
    return
  }
  // A PUBREC repeated after PUBREL (e.g. on a resumed session) is answered with PUBREL again.
  if (entry.stage === 'publish') ctx.store.inflightRelease(state, id)
  ctx.flush.ack(client, PacketType.PUBREL, id, 0)
}

export function handlePubcomp(client: ClientConnection, packet: IPubcompPacket): void {
  const state = client.session!.state
  const id = packet.messageId ?? 0
  const entry = state.inflight?.get(id)
  if (entry === undefined) return
  if (entry.qos !== 2) return wrongAck(client, 'PUBCOMP', id, 'a QoS 1 message (expected PUBACK)')
  if (entry.stage !== 'pubrel') return wrongAck(client, 'PUBCOMP', id, 'a QoS 2 message not yet released (expected PUBREC)')
  client.ctx.store.inflightAck(state, id)
  client.ctx.delivery.drainQueue(client)
}

export function handlePubrel(client: ClientConnection, packet: IPubrelPacket): void {
  const id = packet.messageId ?? 0
  const known = client.ctx.store.released(client.session!.state, id)
  client.ctx.flush.ack(client, PacketType.PUBCOMP, id, known ? 0 : ReasonCode.PacketIdentifierNotFound)
}

function wrongAck(client: ClientConnection, what: string, id: number, forWhat: string): void {
  client.protocolViolation(ReasonCode.ProtocolError, `${what} for packet id ${id}, which is ${forWhat}`)
}
