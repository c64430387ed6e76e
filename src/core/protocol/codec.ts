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
  packet: {length: number; cmd?: string}
  settings: {protocolVersion?: number}
  error: Error | null
  _list: {length: number}
  _stateCounter: number
  parse(buf: Buffer): number
  on(ev: 'packet', fn: (p: Packet) => void): void
  on(ev: 'error', fn: (e: Error) => void): void
}

const kSink = Symbol('sink')

function onParserPacket(this: MqttParser & {[kSink]: Decoder}, packet: Packet): void {
  const dec = this[kSink]
  if (dec.failed) return
  const length = (packet as {length: number}).length
  if (length + 5 > dec.maxPacketSize) {
    const total = 1 + varintSize(length) + length
    if (total > dec.maxPacketSize) {
      dec.failed = true
      dec.sink.onPacketTooLarge(total)
      return
    }
  }
  dec.sink.onPacket(packet)
}

function onParserError(this: MqttParser & {[kSink]: Decoder}, error: Error): void {
  const dec = this[kSink]
  if (dec.failed) return
  dec.failed = true
  dec.sink.onDecodeError(error.message)
}

/** Incremental MQTT decoder. Feed it chunks in any split; it emits whole packets synchronously. */
export class Decoder {
  readonly sink: DecoderSink
  maxPacketSize: number
  failed = false
  private readonly parser: MqttParser

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
    if (this.failed) return
    try {
      this.parser.parse(chunk)
    } catch (error) {
      // mqtt-packet reports malformed input through 'error', but never let a parser bug escape.
      if (!this.failed) {
        this.failed = true
        this.sink.onDecodeError((error as Error).message)
      }
      return
    }
    if (this.failed) return
    // After parse(), a packet whose header is read but whose body is incomplete shows
    // its declared Remaining Length here: refuse it before buffering more of it.
    const declared = this.parser.packet.length
    if (declared > 0 && this.parser._stateCounter === 2 && declared + 5 > this.maxPacketSize) {
      // Compute the exact size: 1 header byte + varint + body.
      const total = 1 + varintSize(declared) + declared
      if (total > this.maxPacketSize) {
        this.failed = true
        this.sink.onPacketTooLarge(total)
      }
    }
  }
}

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4
}

/** Encodes one packet into a single Buffer. */
export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  return mqttPacket.generate(packet, {protocolVersion})
}
