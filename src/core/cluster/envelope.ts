/**
 * A message between nodes: one buffer, a compact header and the payload.
 *
 *   0      version (1)
 *   1      flags: bits 0-1 QoS, 2 retain, 3 properties, 4 topic, 5 expiry
 *   2      origin length N, then N bytes: the sending node's instance id
 *   +6     sequence number of the message at its origin (48 bits)
 *   [+6]   expiry: milliseconds left (48 bits)
 *   [+4+n] topic (UTF-8), when the subject does not carry it (a topic too long for a subject)
 *   [+4+n] MQTT 5 properties as JSON (correlation data in base64)
 *   [+7+n] a retained message's time stored (48 bits) and publisher (length, UTF-8)
 *   rest   payload
 *
 * The topic normally comes from the subject (subjects.ts), so it is not repeated.
 */
import type {Message} from '../broker/message.js'

const VERSION = 1
const F_RETAIN = 4
const F_PROPS = 8
const F_TOPIC = 16
const F_EXPIRY = 32
const F_STORED = 64

type Props = NonNullable<Message['properties']>

/** What travels of the MQTT 5 properties: not the subscription ids and topic alias of the inbound PUBLISH. */
function propsJson(p: Props): string | undefined {
  const {subscriptionIdentifier: _s, topicAlias: _t, correlationData, ...rest} = p
  const out: Record<string, unknown> = rest
  if (correlationData !== undefined) out.correlationData = Buffer.from(correlationData).toString('base64')
  return Object.keys(out).length === 0 ? undefined : JSON.stringify(out)
}

/**
 * The envelope of a message. With `head` (a NATS protocol line's start, `PUB SUBJECT `), the
 * buffer is the whole PUB frame instead: head, the envelope's length, CRLF, the envelope, CRLF
 * (fast-publish.ts), in one allocation.
 */
export function encodeEnvelope(message: Message, origin: Buffer, seq: number, withTopic: boolean, now: number, head?: Buffer): Buffer {
  const props = message.properties === undefined ? undefined : propsJson(message.properties)
  const propsBuf = props === undefined ? undefined : Buffer.from(props)
  const topicBuf = withTopic ? Buffer.from(message.topic) : undefined
  const payload = message.payload as Buffer
  const expiry = message.expiresAt !== undefined
  const stored = message.storedAt !== undefined
  const publisherBuf = stored ? Buffer.from((message.publisher ?? '').slice(0, 200)) : undefined
  const size = 3 + origin.length + 6 + (expiry ? 6 : 0) + (topicBuf ? 4 + topicBuf.length : 0) + (propsBuf ? 4 + propsBuf.length : 0) + (publisherBuf ? 7 + publisherBuf.length : 0) + payload.length
  let buf: Buffer
  let start = 0
  if (head === undefined) {
    buf = Buffer.allocUnsafe(size)
  } else {
    let digits = 1
    for (let n = size; n >= 10; n = Math.floor(n / 10)) digits++
    start = head.length + digits + 2
    buf = Buffer.allocUnsafe(start + size + 2)
    head.copy(buf, 0)
    for (let i = head.length + digits - 1, n = size; i >= head.length; i--, n = Math.floor(n / 10)) buf[i] = 0x30 + (n % 10)
    buf[start - 2] = 13
    buf[start - 1] = 10
    buf[start + size] = 13
    buf[start + size + 1] = 10
  }
  buf[start] = VERSION
  buf[start + 1] = message.qos | (message.retain ? F_RETAIN : 0) | (propsBuf ? F_PROPS : 0) | (topicBuf ? F_TOPIC : 0) | (expiry ? F_EXPIRY : 0) | (stored ? F_STORED : 0)
  buf[start + 2] = origin.length
  let o = start + 3 + origin.copy(buf, start + 3)
  o = buf.writeUIntBE(seq, o, 6)
  if (expiry) o = buf.writeUIntBE(Math.max(0, message.expiresAt! - now), o, 6)
  if (topicBuf) {
    o = buf.writeUInt32BE(topicBuf.length, o)
    o += topicBuf.copy(buf, o)
  }
  if (propsBuf) {
    o = buf.writeUInt32BE(propsBuf.length, o)
    o += propsBuf.copy(buf, o)
  }
  if (publisherBuf) {
    o = buf.writeUIntBE(message.storedAt!, o, 6)
    buf[o++] = publisherBuf.length
    o += publisherBuf.copy(buf, o)
  }
  payload.copy(buf, o)
  return buf
}

/** What decodeEnvelope read besides the message. */
export interface EnvelopeMeta {
  origin: string
  seq: number
}

/**
 * The message in an envelope (topic from the subject unless the envelope has one); undefined
 * for an envelope this version does not read. The payload is a view into `data`, not a copy.
 */
export function decodeEnvelope(data: Uint8Array, topic: string | undefined, meta: EnvelopeMeta, now: number): Message | undefined {
  if (data.length < 9 || data[0] !== VERSION) return undefined
  try {
    return decode(data, topic, meta, now)
  } catch {
    // Cut short or not ours: reading past the end, or properties that are not JSON.
    return undefined
  }
}

function decode(data: Uint8Array, topic: string | undefined, meta: EnvelopeMeta, now: number): Message | undefined {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length)
  const flags = buf[1]
  const n = buf[2]
  meta.origin = buf.toString('latin1', 3, 3 + n)
  let o = 3 + n
  meta.seq = buf.readUIntBE(o, 6)
  o += 6
  let expiresAt: number | undefined
  if (flags & F_EXPIRY) {
    expiresAt = now + buf.readUIntBE(o, 6)
    o += 6
  }
  if (flags & F_TOPIC) {
    const len = buf.readUInt32BE(o)
    topic = buf.toString('utf8', o + 4, o + 4 + len)
    o += 4 + len
  }
  if (topic === undefined) return undefined
  let properties: Props | undefined
  if (flags & F_PROPS) {
    const len = buf.readUInt32BE(o)
    const p = JSON.parse(buf.toString('utf8', o + 4, o + 4 + len)) as Record<string, unknown>
    if (typeof p.correlationData === 'string') p.correlationData = Buffer.from(p.correlationData, 'base64')
    properties = p as Props
    o += 4 + len
  }
  let storedAt: number | undefined
  let publisher: string | undefined
  if (flags & F_STORED) {
    storedAt = buf.readUIntBE(o, 6)
    const len = buf[o + 6]
    if (len > 0) publisher = buf.toString('utf8', o + 7, o + 7 + len)
    o += 7 + len
  }
  if (o > buf.length) return undefined
  const message: Message = {cmd: 'publish', topic, payload: buf.subarray(o), qos: (flags & 3) as 0 | 1 | 2, retain: (flags & F_RETAIN) !== 0, dup: false}
  if (properties !== undefined) message.properties = properties
  if (expiresAt !== undefined) message.expiresAt = expiresAt
  if (storedAt !== undefined) message.storedAt = storedAt
  if (publisher !== undefined) message.publisher = publisher
  return message
}
