/**
 * Hand-written encoders for the packets on the broker's hot path (PUBLISH and the
 * acknowledgements). Each returns one Buffer, sized exactly, so that a WebSocket
 * sends one frame per packet. Anything with MQTT 5 properties goes through
 * mqtt-packet's generate().
 */
import {encode} from './codec.js'
import type {IPublishPacket, ProtocolVersion, QoS} from './codec.js'

export function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4
}

function writeVarint(buf: Buffer, off: number, n: number): number {
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n > 0) byte |= 0x80
    buf[off++] = byte
  } while (n > 0)
  return off
}

export type PublishProperties = NonNullable<IPublishPacket['properties']>

function hasKeys(o: object | undefined): boolean {
  if (o === undefined) return false
  for (const _ in o) return true
  return false
}

/**
 * Encodes a PUBLISH. `packetId` is ignored for QoS 0. Properties are written only for
 * MQTT 5. Throws on input mqtt-packet rejects (callers pass validated packets).
 */
export function encodePublish(
  version: ProtocolVersion,
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  packetId: number,
  properties: PublishProperties | undefined,
): Buffer {
  if (version === 5 && hasKeys(properties)) {
    return encode({cmd: 'publish', topic, payload, qos, retain, dup, messageId: packetId, properties}, 5)
  }
  const topicLen = Buffer.byteLength(topic)
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + payload.length
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining)
  buf[0] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0)
  let off = writeVarint(buf, 1, remaining)
  buf[off++] = topicLen >> 8
  buf[off++] = topicLen & 0xff
  off += buf.write(topic, off, topicLen, 'utf8')
  if (qos > 0) {
    buf[off++] = packetId >> 8
    buf[off++] = packetId & 0xff
  }
  if (version === 5) buf[off++] = 0
  payload.copy(buf, off)
  return buf
}

/** Offset of the packet id in an encoded QoS 1/2 PUBLISH, to reuse one encoding for many subscribers. */
export function publishPacketIdOffset(buf: Buffer): number {
  let off = 1
  while (buf[off] & 0x80) off++
  off++
  return off + 2 + buf.readUInt16BE(off)
}

/** A copy of an encoded QoS 1/2 PUBLISH with another packet id. */
export function withPacketId(template: Buffer, packetId: number): Buffer {
  const buf = Buffer.allocUnsafe(template.length)
  template.copy(buf)
  const off = publishPacketIdOffset(buf)
  buf[off] = packetId >> 8
  buf[off + 1] = packetId & 0xff
  return buf
}

export const PacketType = {
  PUBACK: 0x40,
  PUBREC: 0x50,
  PUBREL: 0x62,
  PUBCOMP: 0x70,
} as const

/** PUBACK, PUBREC, PUBREL or PUBCOMP; MQTT 5 adds the reason code when it is not success. */
export function encodeAck(type: number, packetId: number, version: ProtocolVersion, reasonCode = 0): Buffer {
  if (version === 5 && reasonCode !== 0) {
    const b = Buffer.allocUnsafe(5)
    b[0] = type
    b[1] = 3
    b[2] = packetId >> 8
    b[3] = packetId & 0xff
    b[4] = reasonCode
    return b
  }
  const b = Buffer.allocUnsafe(4)
  b[0] = type
  b[1] = 2
  b[2] = packetId >> 8
  b[3] = packetId & 0xff
  return b
}

export const PINGRESP = Buffer.from([0xd0, 0x00])

/**
 * The CONNACK that accepts an MQTT 3.1 / 3.1.1 client, without and with Session Present:
 * shared, like PINGRESP (mqtt-packet's generate() took 10 µs of every connect).
 */
export const CONNACK_ACCEPTED: readonly [Buffer, Buffer] = [Buffer.from([0x20, 0x02, 0x00, 0x00]), Buffer.from([0x20, 0x02, 0x01, 0x00])]
