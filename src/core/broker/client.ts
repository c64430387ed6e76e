/**
 * One network connection of one MQTT client: decoding, write batching, keepalive,
 * and closing. Stream listeners are module-level functions that reach their Client
 * through a symbol, so a connection allocates no closures per packet.
 */
import type {Duplex} from 'node:stream'
import type {Connection} from '../transport/types.js'
import {Decoder, encode} from '../protocol/codec.js'
import type {DecoderSink, Packet, ProtocolVersion} from '../protocol/codec.js'
import {ReasonCode, describeReasonCode} from '../protocol/reason-codes.js'
import type {Broker} from './broker.js'
import type {Message} from './message.js'
import type {Session} from './session.js'
import {dispatch} from './handlers/index.js'

export const ClientState = {
  /** Socket open, waiting for CONNECT. */
  New: 0,
  /** CONNECT received, authentication and session restore under way. */
  Connecting: 1,
  Connected: 2,
  /** Closing: nothing more is read or written. */
  Closing: 3,
  Closed: 4,
} as const
export type ClientState = (typeof ClientState)[keyof typeof ClientState]

const kClient = Symbol('client')
type TaggedStream = Duplex & {[kClient]: Client}

function onStreamData(this: TaggedStream, chunk: Buffer): void {
  const client = this[kClient]
  client.lastSeen = Date.now()
  client.decoder.write(chunk)
}

function onStreamError(this: TaggedStream, error: Error): void {
  this[kClient].streamError = error
}

function onStreamClose(this: TaggedStream): void {
  this[kClient].finalize()
}

function onConnectTimeout(client: Client): void {
  if (client.state === ClientState.New) client.close(undefined, `no CONNECT within ${client.broker.limits.connectTimeoutMs} ms`)
}

function onKeepaliveTimer(client: Client): void {
  if (client.state !== ClientState.Connected) return
  const idle = Date.now() - client.lastSeen
  const limit = client.keepaliveMs * 1.5
  if (idle >= limit) {
    client.close(ReasonCode.KeepAliveTimeout, `keepalive timeout: nothing received for ${(idle / 1000).toFixed(1)} s with keepalive ${client.keepaliveMs / 1000} s`)
    return
  }
  client.timer = setTimeout(onKeepaliveTimer, limit - idle, client)
}

function destroyStream(stream: Duplex): void {
  stream.destroy()
}

export class Client implements DecoderSink {
  readonly broker: Broker
  readonly conn: Connection
  readonly stream: Duplex
  readonly decoder: Decoder
  state: ClientState = ClientState.New
  version: ProtocolVersion = 4
  clientId = ''
  username: string | undefined
  session: Session | undefined
  will: Message | undefined
  keepaliveMs = 0
  lastSeen = Date.now()
  timer: NodeJS.Timeout | undefined
  /** Outgoing QoS 1/2 messages allowed in flight (the smaller of ours and the client's Receive Maximum). */
  inflightMax = 65535
  /** Packets that arrived while CONNECT was being processed. */
  backlog: Packet[] | undefined
  /** Set when the client sent DISCONNECT (no Will, unless MQTT 5 asked for it). */
  graceful = false
  /** Why the connection closed, for events and logs. */
  closeReason = ''
  streamError: Error | undefined
  corked = false
  /** MQTT 5 Request Problem Information: whether reason strings may be sent. */
  requestProblemInformation = true
  readonly connectedAt = Date.now()

  constructor(broker: Broker, conn: Connection) {
    this.broker = broker
    this.conn = conn
    this.stream = conn.stream
    this.decoder = new Decoder(this, broker.limits.maxPacketSize)
    const stream = this.stream as TaggedStream
    stream[kClient] = this
    stream.on('data', onStreamData)
    stream.on('error', onStreamError)
    stream.on('close', onStreamClose)
    this.timer = setTimeout(onConnectTimeout, broker.limits.connectTimeoutMs, this)
  }

  get remote(): string {
    return this.conn.remote
  }

  /** Keepalive is enforced at 1.5 times the interval the client asked for (MQTT-3.1.2-24). */
  startKeepalive(): void {
    if (this.keepaliveMs > 0) this.timer = setTimeout(onKeepaliveTimer, this.keepaliveMs * 1.5, this)
  }

  // ---- DecoderSink ----

  onPacket(packet: Packet): void {
    if (this.state >= ClientState.Closing) return
    if (this.backlog) {
      this.backlog.push(packet)
      return
    }
    this.dispatch(packet)
  }

  /**
   * Runs the packet's handler. A throw here is a broker bug, not the client's fault: it
   * closes only this connection with 0x83 and surfaces the real error as clientError.
   */
  dispatch(packet: Packet): void {
    try {
      dispatch(this, packet)
    } catch (error) {
      this.broker.emit('clientError', this, error as Error)
      this.close(ReasonCode.ImplementationSpecificError, `internal error handling ${packet.cmd.toUpperCase()}: ${(error as Error).message}`)
    }
  }

  onDecodeError(message: string): void {
    if (this.state === ClientState.New && /protocol version/i.test(message)) {
      // MQTT-3.1.2-2: answer an unsupported protocol level with CONNACK 0x01, then close.
      this.sendNow(Buffer.from([0x20, 0x02, 0x00, 0x01]))
      this.close(undefined, `unsupported protocol version in CONNECT (${message})`)
      return
    }
    this.protocolViolation(ReasonCode.MalformedPacket, `malformed packet: ${message}`)
  }

  onPacketTooLarge(declared: number): void {
    this.protocolViolation(
      ReasonCode.PacketTooLarge,
      `packet of ${declared} bytes exceeds the maximum packet size of ${this.broker.limits.maxPacketSize} bytes`,
    )
  }

  // ---- writing ----

  /**
   * Queues an encoded packet. Writes are corked and flushed once per event-loop turn,
   * so everything a client gets in one turn leaves in one syscall (one frame each on WS).
   */
  send(buf: Buffer): void {
    if (this.state >= ClientState.Closing) return
    if (!this.corked) {
      this.corked = true
      this.stream.cork()
      this.broker.scheduleFlush(this)
    }
    this.stream.write(buf)
  }

  /** Writes at once, also while closing (CONNACK refusals, DISCONNECT). */
  sendNow(buf: Buffer): void {
    if (this.stream.destroyed || this.stream.writableEnded) return
    this.stream.write(buf)
  }

  // ---- closing ----

  /** A protocol violation: MQTT 5 clients get DISCONNECT with the reason code, then the socket closes. */
  protocolViolation(reasonCode: number, reason: string): void {
    this.broker.emit('clientError', this, new Error(`${reason} (${describeReasonCode(reasonCode)})`))
    this.close(reasonCode, reason)
  }

  /**
   * Closes the connection. With a reason code, a connected MQTT 5 client first gets
   * DISCONNECT carrying it. The Will is published later, in finalize(), unless the
   * client disconnected gracefully.
   */
  close(reasonCode: number | undefined, reason: string): void {
    if (this.state >= ClientState.Closing) return
    const wasConnected = this.state === ClientState.Connected || this.state === ClientState.Connecting
    this.state = ClientState.Closing
    this.closeReason ||= reason
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (reasonCode !== undefined && this.version === 5 && wasConnected) {
      const properties = this.requestProblemInformation ? {reasonString: reason.slice(0, 200)} : undefined
      this.sendNow(encode({cmd: 'disconnect', reasonCode, properties}, 5))
    }
    this.stream.end()
    // Keep reading (and ignoring) so that the peer's close is noticed.
    this.stream.resume()
    setTimeout(destroyStream, 1000, this.stream).unref()
  }

  /** Runs once, when the stream has closed: Will, session bookkeeping, events. */
  finalize(): void {
    if (this.state === ClientState.Closed) return
    const wasConnected = this.state === ClientState.Connected || (this.state === ClientState.Closing && this.session !== undefined)
    this.state = ClientState.Closed
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.closeReason ||= this.streamError ? `socket error: ${this.streamError.message}` : 'connection closed by the client'
    this.broker.onClientClosed(this, wasConnected)
  }
}
