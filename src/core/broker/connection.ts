/**
 * One network connection of one MQTT client, on the broker's side: decoding, write
 * batching, keepalive, and closing. Stream listeners are module-level functions that reach
 * their connection through a symbol, so a connection allocates no closures per packet.
 * The packets go to the handler table the broker gave (BrokerContext.dispatch); this file
 * knows nothing of the handlers or of the Broker class.
 */
import type {Duplex} from 'node:stream'
import type {Connection, DirectDataSource, PacketBatchWriter} from '../transport/types.js'
import type {OutboundAliases} from './topic-aliases.js'
import type {ListenerStats} from '../transport/listener-stats.js'
import {countRejected, newListenerStats} from '../transport/listener-stats.js'
import {Decoder, encode} from '../protocol/codec.js'
import type {DecoderSink, IConnackPacket, IDisconnectPacket, Packet, ProtocolVersion} from '../protocol/codec.js'
import {ReasonCode, describeReasonCode} from '../protocol/reason-codes.js'
import {ErrorCode, MqttwsError, ProtocolError} from '../errors.js'
import type {Principal} from './auth.js'
import type {ClientRate} from '../guard/rate-limit.js'
import type {Message} from './message.js'
import type {Session} from './session.js'
import {Deadline} from './timers.js'
import type {BrokerContext} from './types.js'
import {ConnState} from './types.js'

import {destroyStream, kConn, onConnectTimeout, onCredentialsExpired, onDrainTimeout, onKeepaliveTimer, onStreamClose, onStreamData, onStreamDrain, onStreamError} from './connection-events.js'
import type {TaggedStream} from './connection-events.js'

/** Where a connection without a listener (handle() called directly) counts: nowhere that is read. */
const UNCOUNTED: ListenerStats = newListenerStats()

/**
 * Bytes read (and dropped) after the broker closed a connection, to notice the peer's close;
 * past it the stream is no longer read and goes when the close timer destroys it, so that a
 * refused client cannot make the broker read on (reliability.md row 2: 100 MB after a refused header).
 */
const AFTER_CLOSE_BYTES = 64 * 1024

/** A turn's packets up to this many bytes are copied into one buffer (flush()); more go out as they are. */
const COMBINE_BYTES = 64 * 1024

export class ClientConnection implements DecoderSink {
  readonly ctx: BrokerContext
  readonly conn: Connection
  readonly stream: Duplex
  readonly decoder: Decoder
  /** Its listener's counters (plain increments on the hot path). */
  readonly stats: ListenerStats
  /** Application messages this client published, and those delivered to it (the admin API's per-client traffic). */
  messagesIn = 0
  messagesOut = 0
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
   * on other streams (e.g. ws with permessage-deflate), which are corked instead — except
   * with a durable store, where what a turn wrote waits here until that turn is committed.
   */
  private readonly outbox: Buffer[] | undefined
  private readonly batchWriter: PacketBatchWriter | undefined
  /** Whether the outbox may be copied into one buffer (TCP, TLS). */
  private readonly concat: boolean
  private outboxBytes = 0
  /** Packets taken out of the outbox so far (the marks of held turns count from the start). */
  private outboxBase = 0
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
  /** MQTT 5 topic aliases the broker gives the topics it sends (when the client's CONNECT allows them). */
  outAliases: OutboundAliases | undefined
  /**
   * More than maxOutputBytes wait in the output buffer: QoS 0 to this client is dropped and
   * QoS 1/2 queued in its session until 'drain'; after drainTimeoutMs it is disconnected.
   */
  congested = false
  drainTimer: NodeJS.Timeout | undefined
  /** Output bytes that make this client congested: maxOutputBytes, but at least the stream's high-water mark (so that 'drain' follows). */
  readonly outputLimit: number
  readonly connectedAt = Date.now()
  /** The CONNECT's Clean Start (3.1.1: Clean Session) flag, for inspection (set when the session is attached). */
  cleanStart = true
  /** Its message and byte buckets (limits.messageRate, limits.byteRate); undefined when both are off. */
  rate: ClientRate | undefined = undefined
  /** Bytes dropped since close() (AFTER_CLOSE_BYTES). */
  private dropped = 0

  constructor(ctx: BrokerContext, conn: Connection) {
    this.ctx = ctx
    this.conn = conn
    this.stream = conn.stream
    this.stats = conn.stats ?? UNCOUNTED
    this.decoder = new Decoder(this, ctx.limits.maxPacketSize, undefined, {checkClientPackets: true, maxConnectSize: ctx.limits.maxConnectSize})
    const writer = this.stream as Partial<PacketBatchWriter>
    const canBatch = typeof writer.writePackets === 'function'
    const mode = conn.writeMode ?? (canBatch ? 'batch' : 'cork')
    this.batchWriter = mode === 'batch' && canBatch ? (writer as PacketBatchWriter) : undefined
    this.concat = mode === 'concat'
    this.outbox = this.batchWriter !== undefined || this.concat || ctx.flush.holdsOutput ? [] : undefined
    this.outputLimit = Math.max(ctx.limits.maxOutputBytes, this.stream.writableHighWaterMark ?? 0)
    const stream = this.stream as TaggedStream
    stream[kConn] = this
    const direct = this.stream as Partial<DirectDataSource>
    if (typeof direct.onDataDirect === 'function') direct.onDataDirect(onStreamData as (this: Duplex, data: Buffer) => void)
    else stream.on('data', onStreamData)
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

  onPacketTooLarge(declared: number, connectVersion?: ProtocolVersion): void {
    // The transport says it too (WebSocket: close code 1009, Message Too Big).
    this.conn.onPacketTooLarge?.()
    if (this.state === ConnState.New) {
      // The first CONNECT, refused from its header: MQTT 5 gets CONNACK 0x95, 3.1.1 a close.
      const {maxConnectSize, maxPacketSize} = this.ctx.limits
      const limit = Math.min(maxConnectSize, maxPacketSize)
      const setting = maxConnectSize <= maxPacketSize ? 'limits.maxConnectSize, serve --max-connect-size' : 'limits.maxPacketSize, serve --max-packet-size'
      this.onDecodeError(`a CONNECT of ${declared} bytes; this broker accepts CONNECT up to ${limit} bytes (${setting})`, ReasonCode.PacketTooLarge, connectVersion)
      return
    }
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
    this.writeOut(box, this.outboxBytes)
    this.outboxBase += n
    box.length = 0
    this.outboxBytes = 0
  }

  /**
   * With a durable store: ends this turn without writing. What the turn wrote stays in the
   * outbox until its commit; returns its mark for flushTo().
   */
  holdTurn(): number {
    this.corked = false
    return this.outboxBase + this.outbox!.length
  }

  /** Writes what the outbox holds up to a mark from holdTurn() (its turn is committed). */
  flushTo(mark: number): void {
    const box = this.outbox!
    const n = Math.min(mark - this.outboxBase, box.length)
    if (n <= 0) return
    if (n === box.length) {
      this.writeOut(box, this.outboxBytes)
      box.length = 0
      this.outboxBytes = 0
    } else {
      const part = box.splice(0, n)
      let bytes = 0
      for (let i = 0; i < n; i++) bytes += part[i].length
      this.writeOut(part, bytes)
      this.outboxBytes -= bytes
    }
    this.outboxBase += n
  }

  private writeOut(list: Buffer[], bytes: number): void {
    if (this.stream.destroyed || this.stream.writableEnded) return
    const n = list.length
    if (this.batchWriter !== undefined) this.batchWriter.writePackets(list, bytes)
    else if (n === 1) this.stream.write(list[0])
    else if (this.concat && bytes <= COMBINE_BYTES) this.stream.write(Buffer.concat(list, bytes))
    else {
      this.stream.cork()
      for (let i = 0; i < n; i++) this.stream.write(list[i])
      this.stream.uncork()
    }
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
    this.stopTimers()
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

  /** Input after close(): dropped unread; past AFTER_CLOSE_BYTES the stream is paused until it is destroyed. */
  dropAfterClose(n: number): void {
    this.dropped += n
    if (this.dropped > AFTER_CLOSE_BYTES) this.stream.pause()
  }

  private stopTimers(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer)
    this.drainTimer = undefined
    this.credentialsExpiry?.cancel()
    this.credentialsExpiry = undefined
  }

  /** Runs once, when the stream has closed: Will, session bookkeeping, events. */
  finalize(): void {
    if (this.state === ConnState.Closed) return
    const wasConnected = this.state === ConnState.Connected || (this.state === ConnState.Closing && this.session !== undefined)
    this.state = ConnState.Closed
    this.stopTimers()
    this.closeReason ||= this.streamError ? (this.streamError instanceof MqttwsError ? this.streamError.message : `socket error: ${this.streamError.message}`) : 'connection closed by the client'
    this.ctx.connectionClosed(this, wasConnected)
  }
}
