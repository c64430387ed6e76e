/**
 * An MQTT 3.1 / 3.1.1 CONNECT decoded without mqtt-packet's parser: every connect pays for
 * it, and mqtt-packet's state machine, buffer list and debug calls cost the broker 13 µs per
 * CONNECT (10,000 connects, CPU profile), more than the rest of the CONNECT handler. It
 * builds the same object mqtt-packet builds. It runs only on a packet validate.ts checked
 * already (lengths, flags, UTF-8), so it trusts the layout; MQTT 5 (properties) takes
 * mqtt-packet's path.
 */
import type {IConnectPacket} from 'mqtt-packet'
import {varintLength} from './packet-bytes.js'

/**
 * Decodes a CONNECT that checkPacket() accepted, when its level is 3 or 4; undefined for
 * MQTT 5 (its properties are left to mqtt-packet).
 */
export function decodeConnect311(packet: Buffer): IConnectPacket | undefined {
  const lengthBytes = varintLength(packet)
  let pos = 1 + lengthBytes
  const nameLength = (packet[pos] << 8) | packet[pos + 1]
  pos += 2 + nameLength
  const protocolVersion = packet[pos++]
  if (protocolVersion !== 3 && protocolVersion !== 4) return undefined
  const protocolId = nameLength === 4 ? 'MQTT' : 'MQIsdp'
  const flags = packet[pos++]
  const keepalive = (packet[pos] << 8) | packet[pos + 1]
  pos += 2
  const string = (): string => {
    const length = (packet[pos] << 8) | packet[pos + 1]
    const s = packet.toString('utf8', pos + 2, pos + 2 + length)
    pos += 2 + length
    return s
  }
  const bytes = (): Buffer => {
    const length = (packet[pos] << 8) | packet[pos + 1]
    const b = packet.subarray(pos + 2, pos + 2 + length)
    pos += 2 + length
    return b
  }
  // mqtt-packet's Packet fields first, in its order, then the CONNECT's.
  const p = {
    cmd: 'connect',
    retain: false,
    qos: 0,
    dup: false,
    length: packet.length - 1 - lengthBytes,
    topic: null,
    payload: null,
    protocolId,
    protocolVersion,
  } as unknown as IConnectPacket
  const will: {retain: boolean; qos: number; topic?: string; payload?: Buffer} | undefined = (flags & 0x04) !== 0 ? {retain: (flags & 0x20) !== 0, qos: (flags >> 3) & 3} : undefined
  if (will !== undefined) p.will = will as IConnectPacket['will']
  p.clean = (flags & 0x02) !== 0
  p.keepalive = keepalive
  p.clientId = string()
  if (will !== undefined) {
    will.topic = string()
    will.payload = bytes()
  }
  if ((flags & 0x80) !== 0) p.username = string()
  if ((flags & 0x40) !== 0) p.password = bytes()
  return p
}
