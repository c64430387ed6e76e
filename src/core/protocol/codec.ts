/**
 * Thin wrapper over mqtt-packet: one decoder per connection that enforces the maximum
 * packet size from the declared Remaining Length (before the payload is buffered),
 * checks each whole packet strictly (validate.ts) before mqtt-packet parses it, and
 * generate() producing exactly one Buffer per packet, so a WebSocket sends one frame.
 */
import mqttPacket from 'mqtt-packet'
import type {IPublishPacket, Packet, QoS} from 'mqtt-packet'
import {ReasonCode} from './reason-codes.js'
import {checkPacket} from './validate.js'
import {PEEK_BYTES, connectLevel, sameBytes, varintLength} from './packet-bytes.js'
import {parseWhole} from './mqtt-parser.js'
import {decodeConnect311} from './connect-decode.js'
import type {ParserSettings} from './mqtt-parser.js'

export type {
  IAuthPacket,
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPublishPacket,
  ISubscribePacket,
  ISubackPacket,
  IUnsubscribePacket,
  IPubackPacket,
  IPubrecPacket,
  IPubrelPacket,
  IPubcompPacket,
  Packet,
  QoS,
} from 'mqtt-packet'

export type ProtocolVersion = 3 | 4 | 5

export interface DecoderSink {
  onPacket(packet: Packet): void
  /**
   * A malformed or forbidden packet; the decoder is unusable afterwards. `reasonCode` is
   * the MQTT 5 code for it (0x81 malformed, 0x82 protocol error, 0x84 unsupported
   * protocol version, 0x85 client id not valid). `connectVersion` is set when the packet
   * was a CONNECT whose protocol level (3, 4 or 5) could be read.
   */
  onDecodeError(message: string, reasonCode: number, connectVersion?: ProtocolVersion): void
  /**
   * The declared length exceeds the maximum; nothing of the payload was kept. For the first
   * CONNECT (over maxConnectSize or the maximum packet size) `connectVersion` is its protocol
   * level when the few bytes that carry it could be read (3, 4 or 5).
   */
  onPacketTooLarge(declared: number, connectVersion?: ProtocolVersion): void
}

/**
 * Incremental MQTT decoder. Feed it chunks in any split; it emits whole packets synchronously.
 *
 * It reads each fixed header itself, refuses an oversized packet from its header alone,
 * and gathers the bytes of one packet (a view into the chunk when the packet lies in
 * one; otherwise the pieces, joined once complete). The whole packet is checked by
 * validate.ts and only then given to mqtt-packet, alone: that parser checks many field
 * bounds against its whole buffer, so a short packet would otherwise read its fields
 * from the next packet, and the result would depend on how the bytes were split.
 */
export class Decoder {
  readonly sink: DecoderSink
  maxPacketSize: number
  failed = false
  /** What mqtt-packet needs to know of this connection: its protocol version (from CONNECT, or given). */
  private readonly settings: ParserSettings
  /** Fixed-header bytes of the current packet read so far; 0 between packets. */
  private headerBytes = 0
  /** Made when a header is first cut by the end of a chunk (most connections never need it: memory per idle connection). */
  private header: Buffer | undefined
  private declared = 0
  /** Body bytes of the current packet not yet seen; valid once the header is complete. */
  private bodyLeft = 0
  /** Pieces of a packet that spans chunks (the header first), and their total length. */
  private pieces: Buffer[] = []
  private piecesLength = 0
  /**
   * Check every packet with validate.ts (the rules for what a client may send to a server).
   * On for the broker; off for a client engine decoding what a server sends.
   */
  checkClientPackets: boolean
  /**
   * The first packet must be CONNECT (MQTT-3.1.0-1): anything else is refused from its
   * first byte, before its length is even read (so a huge declared length costs nothing).
   */
  private connectFirst: boolean
  /** Largest first CONNECT (broker side, with checkClientPackets), checked from its fixed header like maxPacketSize. */
  maxConnectSize: number
  /** The first packet's fixed header is still being read (the CONNECT that maxConnectSize applies to). */
  private firstHeader: boolean
  /** An oversized first CONNECT: its declared size, while the bytes that carry its protocol level are read (peekVersion). */
  private oversized = 0
  private peek: Buffer | undefined
  private peekLength = 0
  /**
   * While a QoS 0, not retained PUBLISH without properties is handed to onPacket: its bytes
   * as received, which is byte for byte what a subscriber of the same protocol class (5, or
   * 3.1/3.1.1) gets at QoS 0 — so the broker can forward them instead of encoding anew.
   */
  publishWire: Buffer | undefined
  /** The last PUBLISH topic: its bytes (made on the first PUBLISH), their length, and its string. */
  private lastTopicBytes: Buffer | undefined
  private lastTopicLength = -1
  private lastTopic = ''
  /** Set by pause(): the rest of the input waits here until resume(). */
  private paused = false
  private held: Buffer | undefined

  constructor(sink: DecoderSink, maxPacketSize: number, protocolVersion?: ProtocolVersion, options: {checkClientPackets?: boolean; maxConnectSize?: number} = {}) {
    this.sink = sink
    this.maxPacketSize = maxPacketSize
    this.checkClientPackets = options.checkClientPackets === true
    this.connectFirst = this.checkClientPackets
    this.firstHeader = this.checkClientPackets
    this.maxConnectSize = options.maxConnectSize ?? maxPacketSize
    this.settings = protocolVersion ? {protocolVersion} : {}
  }

  /** The protocol version the decoder took from CONNECT (or was given). */
  get protocolVersion(): ProtocolVersion | undefined {
    return this.settings.protocolVersion as ProtocolVersion | undefined
  }

  set protocolVersion(v: ProtocolVersion | undefined) {
    this.settings.protocolVersion = v
  }

  /**
   * Stops emitting packets after the current one (call it from onPacket); the rest of the
   * input is held, not decoded, until resume(). The broker pauses while a CONNECT is
   * processed, so that what follows waits as bytes rather than as parsed packets.
   */
  pause(): void {
    this.paused = true
  }

  /** Decodes what was held since pause(), synchronously. */
  resume(): void {
    if (!this.paused) return
    this.paused = false
    const held = this.held
    this.held = undefined
    if (held !== undefined) this.write(held)
  }

  write(chunk: Buffer): void {
    if (this.failed) {
      if (this.oversized > 0) this.peekVersion(chunk, 0)
      return
    }
    if (this.paused) {
      this.held = this.held === undefined ? chunk : Buffer.concat([this.held, chunk])
      return
    }
    const n = chunk.length
    let i = 0
    /** Where the current packet starts in this chunk, or -1 when it started in an earlier one. */
    let start = this.headerBytes === 0 && this.bodyLeft === 0 ? 0 : -1
    while (i < n && !this.failed) {
      if (this.paused) {
        // Paused at a packet boundary (from onPacket): hold the rest.
        this.held = chunk.subarray(i)
        return
      }
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, n - i)
        this.bodyLeft -= take
        const from = start >= 0 ? start : i
        i += take
        if (start >= 0 && this.bodyLeft === 0) {
          this.emit(chunk.subarray(start, i)) // the whole packet is in this chunk: no copy
        } else {
          this.pieces.push(chunk.subarray(from, i))
          this.piecesLength += i - from
          if (this.bodyLeft === 0) this.emitPieces()
        }
        start = this.bodyLeft === 0 ? i : -1
        continue
      }
      const byte = chunk[i++]
      // A header that started in an earlier chunk is collected byte by byte.
      if (start < 0) this.header![this.headerBytes] = byte
      if (this.headerBytes++ === 0) {
        this.declared = 0
        if (this.connectFirst) {
          this.connectFirst = false
          if (byte >> 4 !== 1) {
            this.failed = true
            this.sink.onDecodeError(`the first packet must be CONNECT, not packet type ${byte >> 4}`, ReasonCode.ProtocolError)
            return
          }
        }
        continue
      }
      this.declared += (byte & 0x7f) * 128 ** (this.headerBytes - 2)
      if (byte & 0x80) {
        if (this.headerBytes === 5) this.fail('Invalid variable byte integer')
        continue
      }
      // The header is complete: refuse an oversized packet before buffering any of it.
      const total = this.headerBytes + this.declared
      if (this.firstHeader) {
        this.firstHeader = false
        if (total > this.maxConnectSize || total > this.maxPacketSize) {
          // Read only as far as the protocol level, so that an MQTT 5 client can be told (CONNACK 0x95).
          this.failed = true
          this.oversized = total
          this.peekVersion(chunk, i)
          return
        }
      }
      if (total > this.maxPacketSize) {
        this.failed = true
        this.sink.onPacketTooLarge(total)
        return
      }
      const headerLength = this.headerBytes
      this.headerBytes = 0
      this.bodyLeft = this.declared
      if (start < 0) {
        this.pieces.push(Buffer.from(this.header!.subarray(0, headerLength)))
        this.piecesLength += headerLength
        if (this.bodyLeft === 0) {
          this.emitPieces()
          start = i
        }
      } else if (this.bodyLeft === 0) {
        this.emit(chunk.subarray(start, i))
        start = i
      }
    }
    if (this.failed || start < 0) return
    // A header cut by the end of the chunk: keep its bytes for the next one.
    if (this.headerBytes > 0) chunk.copy((this.header ??= Buffer.alloc(5)), 0, start, start + this.headerBytes)
    // A header that ended with the chunk, its body still to come.
    else if (this.bodyLeft > 0) {
      this.pieces.push(chunk.subarray(start, n))
      this.piecesLength += n - start
    }
  }

  /**
   * After an oversized CONNECT's fixed header: gathers at most 9 bytes of its variable
   * header (protocol name and level) and reports the packet too large with the version they
   * show (none when they show no valid MQTT name). Nothing else of the packet is kept.
   */
  private peekVersion(chunk: Buffer, from: number): void {
    const peek = (this.peek ??= Buffer.alloc(PEEK_BYTES))
    for (let i = from; i < chunk.length; i++) {
      peek[this.peekLength++] = chunk[i]
      const version = connectLevel(peek, this.peekLength)
      if (version === undefined) continue
      const declared = this.oversized
      this.oversized = 0
      this.peek = undefined
      this.sink.onPacketTooLarge(declared, version === 0 ? undefined : version)
      return
    }
  }

  private emitPieces(): void {
    const packet = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.piecesLength)
    this.pieces = []
    this.piecesLength = 0
    this.emit(packet)
  }

  /** Checks one whole packet, then has mqtt-packet parse it. */
  private emit(packet: Buffer): void {
    if (this.failed) return
    const problem = this.checkClientPackets ? checkPacket(packet, this.settings.protocolVersion ?? 4) : undefined
    if (problem !== undefined) {
      this.failed = true
      this.sink.onDecodeError(problem.message, problem.reasonCode, problem.connectVersion)
      return
    }
    const type = packet[0] >> 4
    if (type === 3 && this.emitPublish(packet)) return
    // Exact first bytes only: reserved flags set take the general path (and its error).
    if (packet.length === 4 && (packet[0] === 0x40 || packet[0] === 0x50 || packet[0] === 0x62 || packet[0] === 0x70)) {
      this.emitAck(type, packet)
      return
    }
    // A checked CONNECT of 3.1 / 3.1.1 (checkPacket ran above): decoded here, not by mqtt-packet.
    const connect = type === 1 && this.checkClientPackets ? decodeConnect311(packet) : undefined
    if (connect !== undefined) {
      this.settings.protocolVersion = connect.protocolVersion
      this.sink.onPacket(connect)
      return
    }
    this.parseGeneral(packet)
  }

  /** Everything but the fast paths: one whole packet through the (shared) mqtt-packet parser. */
  private parseGeneral(packet: Buffer): void {
    const thrown = parseWhole(this, this.settings, packet)
    if (thrown !== undefined) this.fail(thrown)
  }

  /**
   * The hot path: a PUBLISH without properties is decoded here, without mqtt-packet's
   * state machine (several times faster, and no intermediate buffers). Anything unusual
   * (MQTT 5 properties, a bad length) returns false and takes the general path.
   */
  private emitPublish(packet: Buffer): boolean {
    const b0 = packet[0]
    const qos = (b0 >> 1) & 3
    if (qos === 3) return false
    const headerLength = 1 + varintLength(packet)
    let off = headerLength
    const end = packet.length
    if (off + 2 > end) return false
    const topicEnd = off + 2 + ((packet[off] << 8) | packet[off + 1])
    if (topicEnd > end) return false
    const topic = this.topicAt(packet, off + 2, topicEnd)
    off = topicEnd
    let messageId: number | undefined
    if (qos > 0) {
      if (off + 2 > end) return false
      messageId = (packet[off] << 8) | packet[off + 1]
      off += 2
    }
    if (this.settings.protocolVersion === 5) {
      if (off >= end || packet[off] !== 0) return false // properties: general path
      off++
    }
    const retain = (b0 & 1) === 1
    // A retained payload may be kept for long: copy it so it does not pin the whole read buffer.
    const payload = retain ? Buffer.from(packet.subarray(off)) : packet.subarray(off)
    // The same shape mqtt-packet produces, so handlers cannot tell the paths apart.
    const p: IPublishPacket = {cmd: 'publish', retain, qos: qos as QoS, dup: (b0 & 8) !== 0, length: end - headerLength, topic, payload}
    if (messageId !== undefined) p.messageId = messageId
    if (qos === 0 && !retain) this.publishWire = packet
    this.sink.onPacket(p)
    this.publishWire = undefined
    return true
  }

  /**
   * The topic of a PUBLISH as a string: the same string object as last time when the bytes
   * are the same (a client usually publishes to a few topics again and again). That saves
   * decoding and allocating it, and lets later checks and lookups see it is the same topic.
   */
  private topicAt(packet: Buffer, start: number, end: number): string {
    const length = end - start
    const last = this.lastTopicBytes
    if (length === this.lastTopicLength && last !== undefined && sameBytes(packet, start, last, length)) return this.lastTopic
    const topic = packet.toString('utf8', start, end)
    if (length <= LAST_TOPIC_BYTES) {
      const bytes = (this.lastTopicBytes ??= Buffer.allocUnsafe(LAST_TOPIC_BYTES))
      packet.copy(bytes, 0, start, end)
      this.lastTopicLength = length
      this.lastTopic = topic
    }
    return topic
  }

  /**
   * PUBACK, PUBREC, PUBREL, PUBCOMP without a reason code (the usual 4 bytes): the other
   * half of every QoS 1/2 message, so also decoded here rather than by mqtt-packet.
   */
  private emitAck(type: number, packet: Buffer): void {
    const p = {cmd: ACK_COMMANDS[type - 4], retain: false, qos: type === 6 ? 1 : 0, dup: false, length: 2, topic: null, payload: null, messageId: (packet[2] << 8) | packet[3]} as unknown as Packet & {reasonCode?: number}
    if (this.settings.protocolVersion === 5) p.reasonCode = 0
    this.sink.onPacket(p)
  }

  private fail(message: string): void {
    if (this.failed) return
    this.failed = true
    this.sink.onDecodeError(message, ReasonCode.MalformedPacket)
  }
}

const ACK_COMMANDS = ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const

/** Topics up to this many bytes are remembered for reuse (Decoder.topicAt). */
const LAST_TOPIC_BYTES = 128

/** Encodes one packet into a single Buffer. */
export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  return mqttPacket.generate(packet, {protocolVersion})
}
