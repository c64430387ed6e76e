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

/** The protocol level of a checked CONNECT: its name is "MQTT" (4 bytes) or "MQIsdp" (6). */
export function checkedConnectLevel(packet: Buffer): number {
  const at = 1 + varintLength(packet)
  return packet[at + 2 + packet[at + 1]]
}

/** Decodes a CONNECT of level 3 or 4 that checkPacket() accepted. */
export function decodeConnect311(packet: Buffer): IConnectPacket {
  const lengthBytes = varintLength(packet)
  let pos = 1 + lengthBytes
  const nameLength = (packet[pos] << 8) | packet[pos + 1]
  pos += 2
  const protocolId = nameLength === 4 ? 'MQTT' : 'MQIsdp'
  pos += nameLength
  const protocolVersion = packet[pos++] as 3 | 4
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
