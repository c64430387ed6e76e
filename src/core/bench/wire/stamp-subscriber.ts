/**
 * The bench's subscriber on a WireConn: finds each PUBLISH's payload by its offsets,
 * acknowledges QoS 1/2, and hands the payload to the delivery counter (Receiver). With
 * topic aliases announced (--topic-alias-max) it resolves the broker's aliases and counts
 * the wire bytes they saved.
 */
import type {ProtocolVersion} from '../../protocol/codec.js'
import {headerSize} from '../../transport/ws-frame.js'
import {skipVarSized} from './packet-scanner.js'
import type {PacketSink} from './packet-scanner.js'
import type {WireConn} from './wire-conn.js'

/** Takes the payload of each delivered message. */
export interface Receiver {
  /** `nowNs`: when the bytes were read (process.hrtime, ns), for the latency. */
  deliver(buf: Buffer, start: number, end: number, nowNs: number): void
}

const TOPIC_ALIAS = 0x23

/** Bytes of a variable byte integer. */
function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4
}

export class StampSubscriber implements PacketSink {
  /** Wire bytes the aliases saved: for each delivery, its size without the alias less its size with (the first use of an alias costs). */
  aliasBytesSaved = 0
  private readonly v5: boolean
  /** Alias → topic, as the broker assigned them on this connection. */
  private readonly aliasTopics: Array<string | undefined> = []
  /** Their lengths in bytes. */
  private readonly aliasBytes: number[] = []

  constructor(
    readonly conn: WireConn,
    version: ProtocolVersion,
    private readonly receiver: Receiver,
    private readonly aliases = false,
  ) {
    this.v5 = version === 5
  }

  onPacket(buf: Buffer, start: number, body: number, end: number): void {
    const first = buf[start]
    const type = first >> 4
    if (type === 6) {
      this.conn.sendAck(0x70, buf.readUInt16BE(body)) // PUBREL → PUBCOMP
      return
    }
    if (type !== 3) return
    const qos = (first >> 1) & 3
    const topicLength = buf.readUInt16BE(body)
    let off = body + 2 + topicLength
    if (qos > 0) {
      this.conn.sendAck(qos === 1 ? 0x40 : 0x50, buf.readUInt16BE(off))
      off += 2
    }
    if (this.v5) off = this.aliases ? this.properties(buf, start, body, end, off, topicLength) : skipVarSized(buf, off)
    this.receiver.deliver(buf, off, end, this.conn.readAtNs)
  }

  /** Reads the property block at `off` for a Topic Alias; returns where the payload starts. */
  private properties(buf: Buffer, start: number, body: number, end: number, off: number, topicLength: number): number {
    let length = 0
    let mul = 1
    let at = off
    let b: number
    do {
      b = buf[at++]
      length += (b & 0x7f) * mul
      mul *= 128
    } while (b & 0x80)
    const payload = at + length
    let alias = 0
    while (at < payload) {
      const id = buf[at++]
      if (id === TOPIC_ALIAS) {
        alias = buf.readUInt16BE(at)
        break
      }
      at = skipProperty(buf, id, at, payload)
    }
    if (alias === 0) return payload
    if (topicLength > 0) {
      this.aliasTopics[alias] = buf.toString('utf8', body + 2, body + 2 + topicLength)
      this.aliasBytes[alias] = topicLength
      this.count(start, body, end, length, 0)
      return payload
    }
    if (this.aliasTopics[alias] === undefined) throw new Error(`the broker sent topic alias ${alias}, which it never assigned on this connection`)
    this.count(start, body, end, length, this.aliasBytes[alias])
    return payload
  }

  /** The same PUBLISH without the alias (topic `topicBytes` long in full, 3 property bytes fewer): what it would have cost. */
  private count(start: number, body: number, end: number, propertiesLength: number, topicBytes: number): void {
    const remaining = end - body
    const without = remaining + topicBytes - 3 - (varintSize(propertiesLength) - varintSize(propertiesLength - 3))
    const packet = end - start
    const packetWithout = 1 + varintSize(without) + without
    let saved = packetWithout - packet
    if (this.conn.ws) saved += headerSize(packetWithout) - headerSize(packet)
    this.aliasBytesSaved += saved
  }
}

/** Skips one MQTT 5 PUBLISH property (value after its id at `at`); an unknown one ends the block. */
function skipProperty(buf: Buffer, id: number, at: number, end: number): number {
  switch (id) {
    case 0x01: // payload format indicator
      return at + 1
    case 0x02: // message expiry interval
      return at + 4
    case 0x03: // content type
    case 0x08: // response topic
    case 0x09: // correlation data
      return at + 2 + buf.readUInt16BE(at)
    case 0x0b: // subscription identifier
      while (buf[at++] & 0x80);
      return at
    case 0x26: {
      // user property: two strings
      const key = at + 2 + buf.readUInt16BE(at)
      return key + 2 + buf.readUInt16BE(key)
    }
    default:
      return end
  }
}
