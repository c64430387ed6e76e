/**
 * The glue to mqtt-packet's parser: one parser for every Decoder (codec.ts), given one whole
 * packet at a time, its 'packet' and 'error' events routed to the decoder it parses for.
 */
import mqttPacket from 'mqtt-packet'
import type {Packet} from 'mqtt-packet'
import {ReasonCode} from './reason-codes.js'

/** What mqtt-packet needs to know of a connection: its protocol version (from CONNECT, or given). */
export interface ParserSettings {
  protocolVersion?: number
  bridgeMode?: boolean
}

/** The decoder a packet is parsed for: where the packet or the error goes. */
export interface ParseTarget {
  failed: boolean
  readonly sink: {
    onPacket(packet: Packet): void
    onDecodeError(message: string, reasonCode: number): void
  }
}

interface MqttParser {
  settings: ParserSettings
  /** Set while it parses for a decoder: where its 'packet' and 'error' events go. */
  decoder: ParseTarget | undefined
  parse(buf: Buffer): number
  on(ev: 'packet', fn: (p: Packet) => void): void
  on(ev: 'error', fn: (e: Error) => void): void
  _resetState(): void
  _list: {length: number}
  _pos: number
}

const AUTH_SUCCESS_LONG = Buffer.from([0xf0, 0x02, 0x00, 0x00])

function onParserPacket(this: MqttParser, packet: Packet): void {
  const dec = this.decoder
  if (dec === undefined || dec.failed) return
  // mqtt-packet reports a packet id missing from a too-short packet as -1 (validate.ts refuses those first).
  if ((packet as {messageId?: number}).messageId === -1) {
    dec.failed = true
    dec.sink.onDecodeError(`${packet.cmd}: the packet is shorter than its fields`, ReasonCode.MalformedPacket)
    return
  }
  dec.sink.onPacket(packet)
}

function onParserError(this: MqttParser, error: Error): void {
  const dec = this.decoder
  if (dec === undefined || dec.failed) return
  dec.failed = true
  dec.sink.onDecodeError(error.message, ReasonCode.MalformedPacket)
}

function newParser(): MqttParser {
  const parser = mqttPacket.parser() as unknown as MqttParser
  parser.decoder = undefined
  parser.on('packet', onParserPacket)
  parser.on('error', onParserError)
  return parser
}

/**
 * One mqtt-packet parser for every Decoder: each hands it one whole packet at a time and
 * it parses synchronously, so it holds nothing between calls; per connection that saves
 * the parser, its buffer list and its packet objects (~0.7 KB of 10,000 idle connections'
 * memory each). A parse that starts while another is under way (a handler decoding for
 * another connection in the same call) gets a parser of its own.
 */
let sharedParser: MqttParser | undefined

/**
 * Parses one whole packet for `target`, whose settings a CONNECT updates (protocol level,
 * bridge mode). Returns the message of an exception mqtt-packet threw, if any: it reports
 * malformed input through 'error', but a parser bug must not escape.
 */
export function parseWhole(target: ParseTarget, settings: ParserSettings, packet: Buffer): string | undefined {
  let parser = (sharedParser ??= newParser())
  if (parser.decoder !== undefined) parser = newParser()
  parser.decoder = target
  parser.settings = settings
  let thrown: string | undefined
  try {
    // MQTT 5 §3.15.2.1 lets AUTH with reason 0 and no properties be empty; mqtt-packet wants the long form.
    parser.parse(packet.length === 2 && packet[0] === 0xf0 && packet[1] === 0 ? AUTH_SUCCESS_LONG : packet)
  } catch (error) {
    thrown = (error as Error).message
  } finally {
    // A CONNECT replaces the parser's settings with itself: keep only what later packets need.
    const after = parser.settings
    if (after !== settings) {
      settings.protocolVersion = after.protocolVersion
      if (after.bridgeMode !== undefined) settings.bridgeMode = after.bridgeMode
    }
    parser.decoder = undefined
    parser.settings = {}
    // Nothing may carry over to the next connection's packet (_resetState leaves the read position).
    if (parser._list.length > 0 || target.failed || thrown !== undefined) {
      parser._resetState()
      parser._pos = 0
    }
  }
  return thrown
}
