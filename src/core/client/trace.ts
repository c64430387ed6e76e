/**
 * One line per MQTT packet for `pub`/`sub -d` (as mosquitto_pub -d): its type, size,
 * packet id, reason code and a few telling fields, in both directions. The client calls
 * these only when a trace callback was given; without one nothing here runs.
 */
import type {Packet, ProtocolVersion} from '../protocol/codec.js'
import {describeReasonCode} from '../protocol/reason-codes.js'

const TYPES = ['RESERVED', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH']

const VERSION_NAME: Record<number, string> = {3: '3.1', 4: '3.1.1', 5: '5'}

/** Remaining Length (varint) at `off`: its value and where the variable header starts. */
function remainingLength(buf: Buffer, off: number): {value: number; next: number} {
  let value = 0
  let mul = 1
  let i = off
  for (; i < buf.length && i < off + 4; i++) {
    value += (buf[i] & 0x7f) * mul
    mul *= 128
    if ((buf[i] & 0x80) === 0) return {value, next: i + 1}
  }
  return {value, next: i}
}

function utf8At(buf: Buffer, off: number): {text: string; next: number} {
  if (off + 2 > buf.length) return {text: '', next: off}
  const len = buf.readUInt16BE(off)
  return {text: buf.toString('utf8', off + 2, Math.min(buf.length, off + 2 + len)), next: off + 2 + len}
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`
}

/** A packet we are about to write, from its encoded bytes. */
export function describeOutgoing(buf: Buffer, version: ProtocolVersion): string {
  const type = buf[0] >> 4
  const name = TYPES[type] ?? `type ${type}`
  const {value: length, next: body} = remainingLength(buf, 1)
  const details: string[] = []
  const hasId = type === 3 ? ((buf[0] >> 1) & 3) > 0 : type >= 4 && type <= 11 && type !== 9
  if (type === 1) {
    const proto = utf8At(buf, body)
    const level = buf[proto.next]
    const flags = buf[proto.next + 1]
    const keepalive = buf.readUInt16BE(proto.next + 2)
    let off = proto.next + 4
    if (level === 5) {
      const props = remainingLength(buf, off)
      off = props.next + props.value
    }
    details.push(`MQTT ${VERSION_NAME[level] ?? level}`, `client id "${utf8At(buf, off).text}"`, (flags & 0x02) === 0 ? 'clean off' : 'clean', `keepalive ${keepalive}`)
    if ((flags & 0x80) !== 0) details.push('user name')
    if ((flags & 0x04) !== 0) details.push('will')
  } else if (type === 3) {
    const topic = utf8At(buf, body)
    const qos = (buf[0] >> 1) & 3
    if (qos > 0) details.push(`id ${buf.readUInt16BE(topic.next)}`)
    details.push(`QoS ${qos}`)
    if ((buf[0] & 1) !== 0) details.push('retain')
    if ((buf[0] & 8) !== 0) details.push('dup')
    details.push(`topic "${topic.text}"`)
  } else if (hasId && body + 2 <= buf.length) {
    details.push(`id ${buf.readUInt16BE(body)}`)
    if (version === 5 && type >= 4 && type <= 7 && length > 2) details.push(describeReasonCode(buf[body + 2]))
  } else if (type === 14 && version === 5 && length > 0) {
    details.push(describeReasonCode(buf[body]))
  }
  return `→ ${name}${details.length > 0 ? ` (${details.join(', ')})` : ''} ${plural(buf.length, 'byte')}`
}

/** A packet the broker sent, as the decoder gave it. */
export function describeIncoming(packet: Packet): string {
  const p = packet as Packet & {length?: number; messageId?: number; reasonCode?: number; returnCode?: number; granted?: number[]; qos?: number; retain?: boolean; dup?: boolean; topic?: string; sessionPresent?: boolean; payload?: Buffer}
  const details: string[] = []
  switch (p.cmd) {
    case 'connack':
      details.push(p.reasonCode === undefined ? `return code ${p.returnCode ?? 0}` : describeReasonCode(p.reasonCode))
      details.push(`session present ${p.sessionPresent ? 1 : 0}`)
      break
    case 'publish':
      if ((p.qos ?? 0) > 0) details.push(`id ${p.messageId}`)
      details.push(`QoS ${p.qos ?? 0}`)
      if (p.retain) details.push('retain')
      if (p.dup) details.push('dup')
      details.push(`topic "${p.topic ?? ''}"`, plural(p.payload?.length ?? 0, 'payload byte'))
      break
    case 'suback':
    case 'unsuback':
      details.push(`id ${p.messageId}`)
      if (p.granted && p.granted.length > 0) details.push(`codes ${p.granted.map((c) => (c < 0x80 && p.cmd === 'suback' ? `QoS ${c}` : describeReasonCode(c))).join(', ')}`)
      break
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      details.push(`id ${p.messageId}`)
      if (p.reasonCode !== undefined) details.push(describeReasonCode(p.reasonCode))
      break
    case 'disconnect':
    case 'auth':
      if (p.reasonCode !== undefined) details.push(describeReasonCode(p.reasonCode))
      break
    default:
      break
  }
  const remaining = p.length ?? 0
  const size = 1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4) + remaining
  return `← ${p.cmd.toUpperCase()}${details.length > 0 ? ` (${details.join(', ')})` : ''} ${plural(size, 'byte')}`
}
