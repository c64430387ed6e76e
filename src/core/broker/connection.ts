/**
 * One network connection of one MQTT client, on the broker's side: decoding, write
 * batching, keepalive, and closing. Stream listeners are module-level functions that reach
 * their connection through a symbol, so a connection allocates no closures per packet.
 * The packets go to the handler table the broker gave (BrokerContext.dispatch); this file
 * knows nothing of the handlers or of the Broker class.
 */
import type {Duplex} from 'node:stream'
import type {Connection, PacketBatchWriter} from '../transport/types.js'
import type {ListenerStats} from '../transport/listener-stats.js'
import {countRejected, newListenerStats} from '../transport/listener-stats.js'
import {Decoder, encode} from '../protocol/codec.js'
import type {DecoderSink, IConnackPacket, IDisconnectPacket, Packet, ProtocolVersion} from '../protocol/codec.js'
import {ReasonCode, describeReasonCode} from '../protocol/reason-codes.js'
import {ErrorCode, ProtocolError} from '../errors.js'
import type {Principal} from './auth.js'
import type {Message} from './message.js'
import type {Session} from './session.js'
import {Deadline} from './timers.js'
import type {BrokerContext} from './types.js'
import {ConnState} from './types.js'

const kConn = Symbol('connection')
type TaggedStream = Duplex & {[kConn]: ClientConnection}

function onCredentialsExpired(client: ClientConnection): void {
  client.credentialsExpiry = undefined
  client.close(ReasonCode.NotAuthorized, 'the credentials expired (token exp or expire_at)')
}

function onStreamData(this: TaggedStream, chunk: Buffer): void {
  const client = this[kConn]
  client.lastSeen = Date.now()
  client.decoder.write(chunk)
}

function onStreamError(this: TaggedStream, error: Error): void {
  this[kConn].streamError = error
}

function onStreamClose(this: TaggedStream): void {
  this[kConn].finalize()
}

/** The output buffer emptied: a congested client takes messages again (its queue first). */
function onStreamDrain(this: TaggedStream): void {
  const client = this[kConn]
  if (!client.congested) return
  client.congested = false
  if (client.drainTimer !== undefined) clearTimeout(client.drainTimer)
  client.drainTimer = undefined
  if (client.state === ConnState.Connected && client.session !== undefined) client.ctx.delivery.drainQueue(client)
}

function onDrainTimeout(client: ClientConnection): void {
  client.drainTimer = undefined
  if (!client.congested || client.state >= ConnState.Closing) return
  const limits = client.ctx.limits
  client.ctx.metrics.slowConsumerDisconnects++
  client.close(
    undefined,
    `slow consumer: more than ${limits.maxOutputBytes} bytes waited to be sent for ${limits.drainTimeoutMs} ms (${client.pendingOutput()} bytes buffered)`,
  )
  // What is buffered will not be read: do not wait for it to flush.
  client.stream.destroy()
}

function onConnectTimeout(client: ClientConnection): void {
  if (client.state === ConnState.New) client.close(undefined, `no CONNECT within ${client.ctx.limits.connectTimeoutMs} ms`)
}

function onKeepaliveTimer(client: ClientConnection): void {
  if (client.state !== ConnState.Connected) return
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

/** Where a connection without a listener (handle() called directly) counts: nowhere that is read. */
const UNCOUNTED: ListenerStats = newListenerStats()

/** A turn's packets up to this many bytes are copied into one buffer (flush()); more go out as they are. */
const COMBINE_BYTES = 64 * 1024

export class ClientConnection implements DecoderSink {
  readonly ctx: BrokerContext
  readonly conn: Connection
  readonly stream: Duplex
  readonly decoder: Decoder
  /** Its listener's counters (plain increments on the hot path). */
  readonly stats: ListenerStats
  state: ConnState = ConnState.New
  version: ProtocolVersion = 4
  clientId = ''
  username: string | undefined
  /** Who authentication said this client is (set at CONNECT). */
  principal: Principal | undefined
  session: Session | undefined
  will: Message | undefined
  keepaliveMs = 0
  lastSeen = Date.now()
  timer: NodeJS.Timeout | undefined
  /** When the credentials expire (Principal.expiresAt), the client is disconnected: one deadline per connection. */
  credentialsExpiry: Deadline<ClientConnection> | undefined
  /** Outgoing QoS 1/2 messages allowed in flight (the smaller of ours and the client's Receive Maximum). */
  inflightMax = 65535
  /** Set when the client sent DISCONNECT (no Will, unless MQTT 5 asked for it). */
  graceful = false
  /** Why the connection closed, for events and logs. */
  closeReason = ''
  streamError: Error | undefined
  corked = false
  /**
   * This turn's packets, sent together by flush(): on TCP and TLS as one buffer, on the
   * broker's WebSocket stream as one frame each in one write (PacketBatchWriter). Undefined
   * on other streams (e.g. ws with permessage-deflate), which are corked instead.
   */
  private readonly outbox: Buffer[] | undefined
  private readonly batchWriter: PacketBatchWriter | undefined
  private outboxBytes = 0
  /** MQTT 5 Request Problem Information: whether reason strings may be sent. */
  requestProblemInformation = true
  /** MQTT 5 Maximum Packet Size of the client: nothing larger is sent to it (MQTT-3.1.2-24). */
  maxOutgoingPacketSize = Number.POSITIVE_INFINITY
  /** MQTT 5 Will Delay Interval in seconds (0: publish the Will at once). */
  willDelay = 0
  /** The last PUBLISH topic that passed the topic checks (handlers/publish.ts). */
  lastCheckedTopic: string | undefined
  /** MQTT 5 topic aliases the client set, by alias (index 0 unused); created on first use. */
  topicAliases: Array<string | undefined> | undefined
  /**
   * More than maxOutputBytes wait in the output buffer: QoS 0 to this client is dropped and
   * QoS 1/2 queued in its session until 'drain'; after drainTimeoutMs it is disconnected.
   */
  congested = false
  drainTimer: NodeJS.Timeout | undefined
  /** Output bytes that make this client congested: maxOutputBytes, but at least the stream's high-water mark (so that 'drain' follows). */
  readonly outputLimit: number
  readonly connectedAt = Date.now()

  constructor(ctx: BrokerContext, conn: Connection) {
    this.ctx = ctx
    this.conn = conn
    this.stream = conn.stream
    this.stats = conn.stats ?? UNCOUNTED
    this.decoder = new Decoder(this, ctx.limits.maxPacketSize, undefined, {checkClientPackets: true})
    const writer = this.stream as Partial<PacketBatchWriter>
    const canBatch = typeof writer.writePackets === 'function'
    const mode = conn.writeMode ?? (canBatch ? 'batch' : 'cork')
    this.batchWriter = mode === 'batch' && canBatch ? (writer as PacketBatchWriter) : undefined
    this.outbox = this.batchWriter !== undefined || mode === 'concat' ? [] : undefined
    this.outputLimit = Math.max(ctx.limits.maxOutputBytes, this.stream.writableHighWaterMark ?? 0)
    const stream = this.stream as TaggedStream
    stream[kConn] = this
    stream.on('data', onStreamData)
    stream.on('error', onStreamError)
    stream.on('close', onStreamClose)
    stream.on('drain', onStreamDrain)
    this.timer = setTimeout(onConnectTimeout, ctx.limits.connectTimeoutMs, this)
  }

  get remote(): string {
    return this.conn.remote
  }

  /** Disconnects the client at `at` (ms since the epoch; MQTT 5: DISCONNECT 0x87): its credentials (a token's exp) run out then. */
  expireCredentialsAt(at: number): void {
    this.credentialsExpiry?.cancel()
    this.credentialsExpiry = new Deadline<ClientConnection>(Math.max(0, at - Date.now()), onCredentialsExpired, this as ClientConnection)
  }

  /** Keepalive is enforced at 1.5 times the interval the client asked for (MQTT-3.1.2-24). */
  startKeepalive(): void {
    if (this.keepaliveMs > 0) this.timer = setTimeout(onKeepaliveTimer, this.keepaliveMs * 1.5, this)
  }

  // ---- DecoderSink ----

  onPacket(packet: Packet): void {
    this.stats.packetsIn++
    if (this.state >= ConnState.Closing) return
    this.dispatch(packet)
  }

  /**
   * Runs the packet's handler. A throw here is a broker bug, not the client's fault: it
   * closes only this connection with 0x83 and surfaces the real error as clientError.
   */
  dispatch(packet: Packet): void {
    try {
      this.ctx.dispatch(this, packet)
    } catch (error) {
      const reason = `internal error handling ${packet.cmd.toUpperCase()}: ${(error as Error).message}`
      this.ctx.emit('clientError', this, new ProtocolError(reason, {reasonCode: ReasonCode.ImplementationSpecificError, cause: error}))
      this.close(ReasonCode.ImplementationSpecificError, reason)
    }
  }

  onDecodeError(message: string, reasonCode: number, connectVersion?: ProtocolVersion): void {
    if (this.state !== ConnState.New) {
      this.protocolViolation(reasonCode, `${reasonCode === ReasonCode.MalformedPacket ? 'malformed packet' : 'protocol error'}: ${message}`)
      return
    }
    countRejected(this.stats, 'malformed-connect')
    // Before CONNACK: MQTT 5 clients get a CONNACK with the reason code, 3.1.1 clients at most a return code.
    if (reasonCode === ReasonCode.UnsupportedProtocolVersion) {
      // MQTT-3.1.2-2: answer an unsupported protocol level with CONNACK 0x01 (the 3.1.1 form, which every level can read).
      this.sendNow(Buffer.from([0x20, 0x02, 0x00, 0x01]))
    } else if (connectVersion === 5) {
      this.sendNow(encode({cmd: 'connack', sessionPresent: false, reasonCode}, 5))
    } else if (connectVersion !== undefined && reasonCode === ReasonCode.ClientIdentifierNotValid) {
      this.sendNow(Buffer.from([0x20, 0x02, 0x00, 0x02]))
    }
    const what = connectVersion === undefined && reasonCode !== ReasonCode.UnsupportedProtocolVersion ? 'before CONNECT' : 'in CONNECT'
    this.ctx.emit('clientError', this, new ProtocolError(`${message} (${describeReasonCode(reasonCode)}) ${what}`, {reasonCode}))
    this.close(undefined, `refused ${what}: ${message}`)
  }

  onPacketTooLarge(declared: number): void {
    // The transport says it too (WebSocket: close code 1009, Message Too Big).
    this.conn.onPacketTooLarge?.()
    this.protocolViolation(
      ReasonCode.PacketTooLarge,
      `packet of ${declared} bytes exceeds the maximum packet size of ${this.ctx.limits.maxPacketSize} bytes`,
      ErrorCode.PACKET_TOO_LARGE,
    )
  }

  // ---- writing ----

  /**
   * Queues an encoded packet. What a client gets in one event-loop turn is flushed together
   * (flush()), in one syscall (one frame each on WS).
   */
  send(buf: Buffer): void {
    if (this.state >= ConnState.Closing) return
    if (!this.corked) {
      // First write of this turn: what earlier turns left unsent tells a slow consumer
      // (what this turn writes has not had its chance to drain yet).
      if (!this.congested && this.pendingOutput() >= this.outputLimit) this.becomeCongested()
      this.corked = true
      if (this.outbox === undefined) this.stream.cork()
      this.ctx.flush.schedule(this)
    }
    this.stats.packetsOut++
    if (this.outbox === undefined) {
      this.stream.write(buf)
    } else {
      this.outbox.push(buf)
      this.outboxBytes += buf.length
    }
  }

  /**
   * Sends what this turn wrote (the broker calls it once per event-loop turn). On TCP and
   * TLS the packets leave as one buffer: copying small packets together costs less than
   * handing the socket one chunk each (writev's per-chunk work was 13% of the broker's time
   * in a fan-in). On WebSocket each packet must stay a frame of its own: the stream was
   * corked and is uncorked.
   */
  flush(): void {
    if (!this.corked) return
    this.corked = false
    const box = this.outbox
    if (box === undefined) {
      this.stream.uncork()
      return
    }
    const n = box.length
    if (n === 0) return
    if (!this.stream.destroyed && !this.stream.writableEnded) {
      if (this.batchWriter !== undefined) this.batchWriter.writePackets(box, this.outboxBytes)
      else if (n === 1) this.stream.write(box[0])
      else if (this.outboxBytes <= COMBINE_BYTES) this.stream.write(Buffer.concat(box, this.outboxBytes))
      else {
        this.stream.cork()
        for (let i = 0; i < n; i++) this.stream.write(box[i])
        this.stream.uncork()
      }
    }
    box.length = 0
    this.outboxBytes = 0
  }

  /** Output bytes not yet handed to the kernel. */
  pendingOutput(): number {
    return this.batchWriter !== undefined ? this.batchWriter.pendingBytes : this.stream.writableLength
  }

  private becomeCongested(): void {
    this.congested = true
    const ms = this.ctx.limits.drainTimeoutMs
    if (ms > 0) this.drainTimer = setTimeout(onDrainTimeout, ms, this)
  }

  /**
   * Encodes a packet that may carry a Reason String or User Properties (CONNACK,
   * DISCONNECT): without them when the client did not want them or they would make the
   * packet exceed its Maximum Packet Size (MQTT 5 §3.1.2.11.4 allows dropping them).
   */
  encodeWithReason(packet: IConnackPacket | IDisconnectPacket): Buffer {
    const props = packet.properties as {reasonString?: string; userProperties?: unknown} | undefined
    if (props !== undefined && !this.requestProblemInformation) {
      props.reasonString = undefined
      props.userProperties = undefined
    }
    let buf = encode(packet, this.version)
    if (buf.length > this.maxOutgoingPacketSize && props !== undefined) {
      props.reasonString = undefined
      props.userProperties = undefined
      buf = encode(packet, this.version)
    }
    return buf
  }

  /** Writes at once, also while closing (CONNACK refusals, DISCONNECT). */
  sendNow(buf: Buffer): void {
    if (this.stream.destroyed || this.stream.writableEnded) return
    // After what this turn already queued, as on a corked stream.
    if (this.outbox !== undefined) this.flush()
    this.stats.packetsOut++
    // The same path as flush(), so that nothing overtakes what it wrote.
    if (this.batchWriter !== undefined) this.batchWriter.writePackets([buf], buf.length)
    else this.stream.write(buf)
  }

  // ---- closing ----

  /** A protocol violation: MQTT 5 clients get DISCONNECT with the reason code, then the socket closes. */
  protocolViolation(reasonCode: number, reason: string, code: ErrorCode = ErrorCode.PROTOCOL): void {
    this.ctx.emit('clientError', this, new ProtocolError(`${reason} (${describeReasonCode(reasonCode)})`, {reasonCode, code}))
    this.close(reasonCode, reason)
  }

  /**
   * Closes the connection. With a reason code, a connected MQTT 5 client first gets
   * DISCONNECT carrying it. The Will is published later, in finalize(), unless the
   * client disconnected gracefully.
   */
  close(reasonCode: number | undefined, reason: string): void {
    if (this.state >= ConnState.Closing) return
    const wasConnected = this.state === ConnState.Connected || this.state === ConnState.Connecting
    this.state = ConnState.Closing
    this.closeReason ||= reason
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer)
    this.drainTimer = undefined
    this.credentialsExpiry?.cancel()
    this.credentialsExpiry = undefined
    if (reasonCode !== undefined && this.version === 5 && wasConnected) {
      const properties = this.requestProblemInformation ? {reasonString: reason.slice(0, 200)} : undefined
      const buf = this.encodeWithReason({cmd: 'disconnect', reasonCode, properties})
      if (buf.length <= this.maxOutgoingPacketSize) this.sendNow(buf)
    }
    if (this.outbox !== undefined) this.flush()
    this.stream.end()
    // Keep reading (and ignoring) so that the peer's close is noticed.
    this.stream.resume()
    setTimeout(destroyStream, 1000, this.stream).unref()
  }

  /** Runs once, when the stream has closed: Will, session bookkeeping, events. */
  finalize(): void {
    if (this.state === ConnState.Closed) return
    const wasConnected = this.state === ConnState.Connected || (this.state === ConnState.Closing && this.session !== undefined)
    this.state = ConnState.Closed
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer)
    this.drainTimer = undefined
    this.credentialsExpiry?.cancel()
    this.credentialsExpiry = undefined
    this.closeReason ||= this.streamError ? `socket error: ${this.streamError.message}` : 'connection closed by the client'
    this.ctx.connectionClosed(this, wasConnected)
  }
}
