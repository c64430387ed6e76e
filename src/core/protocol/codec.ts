/**
 * Thin wrapper over mqtt-packet: one decoder per connection that enforces the maximum
 * packet size from the declared Remaining Length (before the payload is buffered), and
 * generate() producing exactly one Buffer per packet, so a WebSocket sends one frame.
 */
import mqttPacket from 'mqtt-packet'
import type {Packet} from 'mqtt-packet'

export type {
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
  /** A malformed packet; the decoder is unusable afterwards. */
  onDecodeError(message: string): void
  /** The declared length exceeds the maximum; nothing of the payload was kept. */
  onPacketTooLarge(declared: number): void
}

interface MqttParser {
  settings: {protocolVersion?: number}
  parse(buf: Buffer): number
  on(ev: 'packet', fn: (p: Packet) => void): void
  on(ev: 'error', fn: (e: Error) => void): void
}

const kSink = Symbol('sink')

function onParserPacket(this: MqttParser & {[kSink]: Decoder}, packet: Packet): void {
  const dec = this[kSink]
  if (dec.failed) return
  // mqtt-packet reports a packet id missing from a too-short packet as -1.
  if ((packet as {messageId?: number}).messageId === -1) {
    dec.failed = true
    dec.sink.onDecodeError(`${packet.cmd}: the packet is shorter than its fields`)
    return
  }
  dec.sink.onPacket(packet)
}

function onParserError(this: MqttParser & {[kSink]: Decoder}, error: Error): void {
  const dec = this[kSink]
  if (dec.failed) return
  dec.failed = true
  dec.sink.onDecodeError(error.message)
}

/**
 * Incremental MQTT decoder. Feed it chunks in any split; it emits whole packets synchronously.
 *
 * It reads each fixed header itself and hands mqtt-packet's parser no byte past the end of
 * the current packet: that parser checks many field bounds against its whole buffer, so a
 * short packet would otherwise read its fields from the next packet, and the result would
 * depend on how the bytes were split.
 */
export class Decoder {
  readonly sink: DecoderSink
  maxPacketSize: number
  failed = false
  private readonly parser: MqttParser
  /** Fixed-header bytes of the current packet read so far; 0 between packets. */
  private headerBytes = 0
  private declared = 0
  /** Body bytes of the current packet not yet seen; valid once the header is complete. */
  private bodyLeft = 0

  constructor(sink: DecoderSink, maxPacketSize: number, protocolVersion?: ProtocolVersion) {
    this.sink = sink
    this.maxPacketSize = maxPacketSize
    const parser = mqttPacket.parser(protocolVersion ? {protocolVersion} : undefined) as unknown as MqttParser & {[kSink]: Decoder}
    parser[kSink] = this
    parser.on('packet', onParserPacket)
    parser.on('error', onParserError)
    this.parser = parser
  }

  /** The protocol version the decoder took from CONNECT (or was given). */
  get protocolVersion(): ProtocolVersion | undefined {
    return this.parser.settings.protocolVersion as ProtocolVersion | undefined
  }

  set protocolVersion(v: ProtocolVersion | undefined) {
    this.parser.settings.protocolVersion = v
  }

  write(chunk: Buffer): void {
    let start = 0 // first byte not yet given to the parser
    let i = 0
    while (i < chunk.length && !this.failed) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - i)
        i += n
        this.bodyLeft -= n
        if (this.bodyLeft === 0) start = this.feed(chunk, start, i)
        continue
      }
      const byte = chunk[i++]
      if (this.headerBytes++ === 0) {
        this.declared = 0
        continue
      }
      this.declared += (byte & 0x7f) * 128 ** (this.headerBytes - 2)
      if (byte & 0x80) {
        if (this.headerBytes === 5) this.fail('Invalid variable byte integer')
        continue
      }
      // The header is complete: refuse an oversized packet before buffering any of it.
      const total = this.headerBytes + this.declared
      if (total > this.maxPacketSize) {
        this.failed = true
        this.sink.onPacketTooLarge(total)
        return
      }
      this.headerBytes = 0
      this.bodyLeft = this.declared
      if (this.bodyLeft === 0) start = this.feed(chunk, start, i)
    }
    if (start < i && !this.failed) this.feed(chunk, start, i)
  }

  /** Gives chunk[start, end) to the parser; returns the new start. */
  private feed(chunk: Buffer, start: number, end: number): number {
    if (this.failed) return end
    try {
      this.parser.parse(chunk.subarray(start, end))
    } catch (error) {
      // mqtt-packet reports malformed input through 'error', but never let a parser bug escape.
      this.fail((error as Error).message)
    }
    return end
  }

  private fail(message: string): void {
    if (this.failed) return
    this.failed = true
    this.sink.onDecodeError(message)
  }
}

/** Encodes one packet into a single Buffer. */
export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  return mqttPacket.generate(packet, {protocolVersion})
}
