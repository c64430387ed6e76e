/**
 * The MQTT client engine behind `pub`, `sub` and `bench`: one connection over any
 * transport, QoS 0/1/2 both ways, MQTT 3.1, 3.1.1 and 5. Lean on purpose: publishing
 * allocates no promise (callbacks; publishAsync is a convenience on top), each packet is
 * one encoded Buffer, and writes are corked and flushed once per event-loop turn.
 */
import {randomBytes} from 'node:crypto'
import {EventEmitter} from 'node:events'
import type {Duplex} from 'node:stream'
import type {Scheme} from '../config.js'
import {ProtocolError, TimeoutError, TransportError} from '../errors.js'
import {Decoder, encode} from '../protocol/codec.js'
import type {DecoderSink, IConnackPacket, IDisconnectPacket, IPublishPacket, Packet, ProtocolVersion, QoS} from '../protocol/codec.js'
import {PacketType, encodeAck, encodePublish} from '../protocol/encode.js'
import {dial} from '../transport/dial.js'
import type {WireCounter} from '../transport/wire-counter.js'
import {Handshake, checkAuthMethod} from './handshake.js'
import {MemoryInflightStore} from './inflight-store.js'
import type {InflightStore, PublishCallback} from './inflight-store.js'
import {parseUrl} from './options.js'
import {PacketIdAllocator} from './packet-id.js'
import {closedError, disconnectedError, notAllowedError, refused, tooLargeError} from './refusals.js'
import {describeIncoming, describeOutgoing} from './trace.js'
import type {ClientEvents, ClientOptions, PublishOptions, Subscription} from './types.js'

interface Pending {
  resolve(codes: number[]): void
  reject(error: Error): void
}

interface Queued {
  topic: string
  payload: Buffer
  options: PublishOptions
  callback: PublishCallback | undefined
}

const kClient = Symbol('mqttClient')
type Tagged = Duplex & {[kClient]: MqttClient}

function onData(this: Tagged, chunk: Buffer): void {
  this[kClient].decoder.write(chunk)
}

function onError(this: Tagged, error: Error): void {
  this[kClient].failure ??= error
}

function onClose(this: Tagged): void {
  this[kClient].onClosed()
}

function flush(client: MqttClient): void {
  client.corked = false
  client.stream.uncork()
}

function onKeepaliveTick(client: MqttClient): void {
  client.keepaliveTick()
}

function callPublished(callback: PublishCallback, error: Error | undefined, code: number): void {
  callback(error, code)
}

const MAX_QOS_ERROR = 0x80

export class MqttClient extends EventEmitter<ClientEvents> implements DecoderSink {
  readonly stream: Duplex
  /** Byte counters at the wire. */
  readonly socket: WireCounter
  readonly scheme: Scheme
  readonly url: string
  readonly version: ProtocolVersion
  readonly decoder: Decoder
  clientId: string
  connack: IConnackPacket | undefined
  /** Subprotocol the WebSocket server chose. */
  subprotocol: string | undefined
  /** WebSocket extensions the server accepted (e.g. "permessage-deflate"). */
  wsExtensions: string | undefined
  corked = false
  failure: Error | undefined
  closed = false
  private readonly ids = new PacketIdAllocator()
  private readonly inflight: InflightStore
  private readonly queue: Queued[] = []
  private readonly pendingAcks = new Map<number, Pending>()
  private readonly awaitingRel = new Set<number>()
  private readonly inboundAliases = new Map<number, string>()
  private sendMaximum = 65535
  /** MQTT 5: the broker's Topic Alias Maximum (0: aliases not allowed) and Maximum Packet Size. */
  private topicAliasMaximum = 0
  private maximumPacketSize = Infinity
  /** MQTT 5: the broker's Maximum QoS and Retain Available (MQTT-3.2.2-11, -14). */
  private maximumQoS: QoS = 2
  private retainAvailable = true
  private keepaliveMs: number
  private keepaliveTimer: NodeJS.Timeout | undefined
  private sentSinceTick = false
  /** Keepalive ticks (half the keepalive each) since the unanswered PINGREQ; -1: none outstanding. */
  private pingTicks = -1
  private ending = false
  /** Size of the largest PUBLISH sent: what a 3.1.1 broker that closes the connection may have refused. */
  private largestPublish = 0
  private readonly trace: ((line: string) => void) | undefined
  /** ping(): each waits for the PINGRESP of the PINGREQ numbered `answer` (keepalive pings count too). */
  private pingWaiters: Array<{answer: number; done: (error?: Error) => void}> = []
  private pingsSent = 0
  private pingsAnswered = 0
  /** Messages received before anyone listened; undefined once someone does. */
  private early: IPublishPacket[] | undefined = []
  /** The CONNECT exchange, until CONNACK. */
  private handshake: Handshake | undefined
  /** Milliseconds from writing CONNECT to CONNACK: the broker's authentication and session set-up. */
  handshakeMs = 0

  private constructor(options: ClientOptions, stream: Duplex, socket: WireCounter, scheme: Scheme, subprotocol: string | undefined) {
    super()
    this.url = String(options.url)
    this.version = options.protocolVersion ?? 5
    this.clientId = options.clientId ?? ''
    if (this.clientId === '' && this.version === 3) this.clientId = `mqttws-${randomBytes(6).toString('hex')}`
    this.stream = stream
    this.socket = socket
    this.scheme = scheme
    this.subprotocol = subprotocol
    this.inflight = options.inflightStore ?? new MemoryInflightStore()
    this.keepaliveMs = (options.keepalive ?? 60) * 1000
    this.trace = options.trace
    this.releaseEarly = this.releaseEarly.bind(this)
    ;(this as unknown as EventEmitter).on('newListener', this.releaseEarly)
    // The server's packets are parsed with our version from the start.
    this.decoder = new Decoder(this, 268_435_460, this.version)
    const tagged = stream as Tagged
    tagged[kClient] = this
    stream.on('data', onData)
    stream.on('error', onError)
    stream.on('close', onClose)
  }

  /** Connects, sends CONNECT and resolves once CONNACK accepted; rejects with an actionable error. */
  static async connect(options: ClientOptions): Promise<MqttClient> {
    const url = typeof options.url === 'string' ? parseUrl(options.url) : options.url
    const timeoutMs = options.connectTimeoutMs ?? 10_000
    if (options.authMethod !== undefined) checkAuthMethod(options)
    const started = Date.now()
    const dialed = await dial(url, {timeoutMs, ...options.dial})
    const client = new MqttClient(options, dialed.stream, dialed.socket, dialed.scheme, dialed.subprotocol)
    client.wsExtensions = dialed.extensions
    // One budget for the transport and CONNACK together, as documented.
    const handshake = new Handshake(client, options, client.clientId, Math.max(1, timeoutMs - (Date.now() - started)))
    client.handshake = handshake
    await handshake.done
    return client
  }

  /** The CONNACK the handshake accepted: the broker's limits and assigned client id. */
  private accept(connack: IConnackPacket): void {
    this.connack = connack
    const props = connack.properties
    if (props?.assignedClientIdentifier) this.clientId = props.assignedClientIdentifier
    if (props?.receiveMaximum) this.sendMaximum = props.receiveMaximum
    if (props?.topicAliasMaximum) this.topicAliasMaximum = props.topicAliasMaximum
    if (props?.maximumPacketSize) this.maximumPacketSize = props.maximumPacketSize
    if (props?.maximumQoS !== undefined) this.maximumQoS = props.maximumQoS as QoS
    if (props?.retainAvailable === false) this.retainAvailable = false
    if (props?.serverKeepAlive !== undefined) this.keepaliveMs = props.serverKeepAlive * 1000
    this.startKeepalive()
  }

  get connected(): boolean {
    return this.connack !== undefined && !this.closed && !this.ending
  }

  /** Bytes at the TCP socket, including TLS and WebSocket framing. */
  get bytesWritten(): number {
    return this.socket.bytesWritten
  }

  get bytesRead(): number {
    return this.socket.bytesRead
  }

  // ---- publishing ----

  /**
   * Publishes; the callback runs once the message is written (QoS 0) or acknowledged
   * (QoS 1: PUBACK, QoS 2: PUBCOMP), with the broker's reason code (MQTT 5).
   */
  publish(topic: string, payload: Buffer | string, options: PublishOptions = {}, callback?: PublishCallback): void {
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload
    if (!this.connected) {
      if (callback) process.nextTick(callPublished, callback, this.notConnected(), MAX_QOS_ERROR)
      return
    }
    const qos = options.qos ?? 0
    // What the broker announced it does not take would get us disconnected: refuse it here.
    const alias = options.properties?.topicAlias
    if ((alias !== undefined && this.version === 5 && alias > this.topicAliasMaximum) || qos > this.maximumQoS || (options.retain === true && !this.retainAvailable)) {
      if (callback) process.nextTick(callPublished, callback, this.notAllowed(qos, options.retain === true, alias), MAX_QOS_ERROR)
      return
    }
    if (qos === 0) {
      const encoded = encodePublish(this.version, topic, body, 0, options.retain === true, false, 0, this.version === 5 ? options.properties : undefined)
      if (encoded.length > this.maximumPacketSize) {
        if (callback) process.nextTick(callPublished, callback, this.tooLarge(encoded.length), MAX_QOS_ERROR)
        return
      }
      if (encoded.length > this.largestPublish) this.largestPublish = encoded.length
      this.send(encoded)
      if (callback) process.nextTick(callPublished, callback, undefined, 0)
      return
    }
    if (this.inflight.size >= this.sendMaximum || this.queue.length > 0) {
      this.queue.push({topic, payload: body, options, callback})
      return
    }
    this.sendQos(topic, body, options, callback)
  }

  publishAsync(topic: string, payload: Buffer | string, options: PublishOptions = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      this.publish(topic, payload, options, (error, code) => (error ? reject(error) : resolve(code)))
    })
  }

  private sendQos(topic: string, payload: Buffer, options: PublishOptions, callback: PublishCallback | undefined): void {
    const id = this.ids.allocate()
    const qos = options.qos as QoS
    const encoded = encodePublish(this.version, topic, payload, qos, options.retain === true, options.dup === true, id, this.version === 5 ? options.properties : undefined)
    if (encoded.length > this.maximumPacketSize) {
      this.ids.release(id)
      if (callback) process.nextTick(callPublished, callback, this.tooLarge(encoded.length), MAX_QOS_ERROR)
      return
    }
    this.inflight.set({packetId: id, qos, state: 'publish', encoded, callback})
    if (encoded.length > this.largestPublish) this.largestPublish = encoded.length
    this.send(encoded)
  }

  private settle(id: number, error: Error | undefined, code: number): void {
    const entry = this.inflight.get(id)
    if (!entry) return
    this.inflight.delete(id)
    this.ids.release(id)
    if (entry.callback) entry.callback(error, code)
    while (this.queue.length > 0 && this.inflight.size < this.sendMaximum && this.connected) {
      const q = this.queue.shift()!
      this.sendQos(q.topic, q.payload, q.options, q.callback)
    }
  }

  // ---- subscribing ----

  /** Resolves with the SUBACK codes, one per subscription (granted QoS, or >= 0x80 refused). */
  subscribe(subscriptions: Subscription[], properties?: {subscriptionIdentifier?: number; userProperties?: Record<string, string | string[]>}): Promise<number[]> {
    return this.request((messageId) =>
      encode({cmd: 'subscribe', messageId, subscriptions, ...(this.version === 5 && properties ? {properties} : {})}, this.version),
    )
  }

  /** Resolves with the UNSUBACK codes (MQTT 5; empty for older versions). */
  unsubscribe(topics: string[]): Promise<number[]> {
    return this.request((messageId) => encode({cmd: 'unsubscribe', messageId, unsubscriptions: topics}, this.version))
  }

  private request(build: (messageId: number) => Buffer): Promise<number[]> {
    if (!this.connected) return Promise.reject(this.notConnected())
    const id = this.ids.allocate()
    return new Promise((resolve, reject) => {
      this.pendingAcks.set(id, {resolve, reject})
      this.send(build(id))
    })
  }

  /**
   * Sends PINGREQ and resolves at its PINGRESP: the broker read everything sent before it.
   * `pub` asks this before leaving after QoS 0 messages, which have no acknowledgement, so a
   * broker that dropped the connection over one of them is noticed. Rejects if the connection closes.
   */
  ping(): Promise<void> {
    if (!this.connected) return Promise.reject(this.notConnected())
    return new Promise((resolve, reject) => {
      this.pingWaiters.push({answer: ++this.pingsSent, done: (error) => (error ? reject(error) : resolve())})
      this.send(PINGREQ)
    })
  }

  // ---- closing ----

  /** Sends DISCONNECT (MQTT 5: with the reason code) and closes; resolves when the socket is closed. */
  end(reasonCode = 0, properties?: NonNullable<IDisconnectPacket['properties']>): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      this.once('close', () => resolve())
      if (!this.ending) {
        this.ending = true
        this.stopKeepalive()
        if (!this.stream.destroyed) {
          const packet: IDisconnectPacket = {cmd: 'disconnect'}
          if (this.version === 5 && (reasonCode !== 0 || properties)) {
            packet.reasonCode = reasonCode
            if (properties) packet.properties = properties
          }
          const bytes = encode(packet, this.version)
          if (this.trace !== undefined) this.trace(describeOutgoing(bytes, this.version))
          this.stream.end(bytes)
          setTimeout(destroyStream, 2000, this.stream).unref()
        }
      }
    })
  }

  destroy(error?: Error): void {
    if (error) this.failure ??= error
    this.stopKeepalive()
    this.stream.destroy()
  }

  /** Runs once when the stream closes: fails everything still waiting. */
  onClosed(): void {
    if (this.closed) return
    this.closed = true
    this.stopKeepalive()
    const error = this.ending && !this.failure ? undefined : (this.failure ?? closedError(this.url, this.connack !== undefined, this.version, this.largestPublish))
    const pendingError = error ?? new TransportError(`${this.url}: the connection was closed`)
    for (const w of this.pingWaiters.splice(0)) w.done(pendingError)
    for (const p of this.pendingAcks.values()) p.reject(pendingError)
    this.pendingAcks.clear()
    for (const e of [...this.inflight.values()]) this.settle(e.packetId, pendingError, MAX_QOS_ERROR)
    for (const q of this.queue.splice(0)) q.callback?.(pendingError, MAX_QOS_ERROR)
    if (this.handshake !== undefined) this.handshake.onClose(error)
    this.emit('close', error)
  }

  private notAllowed(qos: QoS, retain: boolean, alias: number | undefined): Error {
    return notAllowedError({maximumQoS: this.maximumQoS, retainAvailable: this.retainAvailable, topicAliasMaximum: this.topicAliasMaximum}, qos, retain, alias)
  }

  private tooLarge(size: number): Error {
    return tooLargeError(this.url, size, this.maximumPacketSize)
  }

  private notConnected(): Error {
    return new TransportError(`${this.url}: not connected${this.failure ? ` (${this.failure.message})` : ''}`)
  }

  // ---- writing ----

  private send(buf: Buffer): void {
    if (this.stream.destroyed || this.stream.writableEnded) return
    if (this.trace !== undefined) this.trace(describeOutgoing(buf, this.version))
    if (!this.corked) {
      this.corked = true
      this.stream.cork()
      setImmediate(flush, this)
    }
    this.sentSinceTick = true
    this.stream.write(buf)
  }

  // ---- keepalive ----

  /**
   * Ticks every half keepalive: MQTT wants no gap between our packets longer than the
   * keepalive, and with a tick per keepalive a packet sent just after one tick would let
   * the next ping wait almost two keepalives (brokers close after 1.5).
   */
  private startKeepalive(): void {
    if (this.keepaliveMs > 0) this.keepaliveTimer = setInterval(onKeepaliveTick, Math.max(1, Math.floor(this.keepaliveMs / 2)), this)
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer)
    this.keepaliveTimer = undefined
  }

  /** Every half keepalive: ping if we sent nothing since the last tick; give up if a ping got no answer within a keepalive. */
  keepaliveTick(): void {
    if (this.pingTicks >= 0) {
      if (++this.pingTicks >= 2) {
        this.destroy(new TimeoutError(`${this.url}: no PINGRESP within the keepalive of ${this.keepaliveMs / 1000} s: the broker or the network is not responding`))
        return
      }
    } else if (!this.sentSinceTick) {
      this.pingTicks = 0
      this.pingsSent++
      this.send(PINGREQ)
    }
    this.sentSinceTick = false
  }

  // ---- DecoderSink ----

  onPacket(packet: Packet): void {
    if (this.trace !== undefined) this.trace(describeIncoming(packet))
    switch (packet.cmd) {
      case 'connack': {
        const handshake = this.handshake
        if (handshake === undefined) return this.protocolFailure('a second CONNACK')
        this.handshake = undefined
        const accepted = handshake.onConnack(packet)
        this.handshakeMs = handshake.ms
        if (accepted) this.accept(packet)
        return
      }
      case 'publish':
        return this.onPublish(packet)
      case 'puback': {
        const code = packet.reasonCode ?? 0
        return this.settle(packet.messageId ?? 0, code >= MAX_QOS_ERROR ? refused('PUBACK', code, packet.properties?.reasonString) : undefined, code)
      }
      case 'pubrec': {
        const id = packet.messageId ?? 0
        const entry = this.inflight.get(id)
        const code = packet.reasonCode ?? 0
        if (!entry) {
          this.send(encodeAck(PacketType.PUBREL, id, this.version, 0x92))
          return
        }
        if (code >= MAX_QOS_ERROR) return this.settle(id, refused('PUBREC', code, packet.properties?.reasonString), code)
        entry.state = 'pubrel'
        this.send(encodeAck(PacketType.PUBREL, id, this.version))
        return
      }
      case 'pubcomp':
        return this.settle(packet.messageId ?? 0, undefined, packet.reasonCode ?? 0)
      case 'pubrel': {
        const id = packet.messageId ?? 0
        const known = this.awaitingRel.delete(id)
        this.send(encodeAck(PacketType.PUBCOMP, id, this.version, known ? 0 : 0x92))
        return
      }
      case 'suback':
      case 'unsuback': {
        const id = packet.messageId ?? 0
        const pending = this.pendingAcks.get(id)
        if (!pending) return
        this.pendingAcks.delete(id)
        this.ids.release(id)
        // mqtt-packet puts the reason codes of both SUBACK and (MQTT 5) UNSUBACK in `granted`.
        const codes = ((packet as {granted?: number[]}).granted ?? []) as number[]
        pending.resolve(codes)
        return
      }
      case 'pingresp':
        this.pingTicks = -1
        this.pingsAnswered++
        while (this.pingWaiters.length > 0 && this.pingWaiters[0].answer <= this.pingsAnswered) this.pingWaiters.shift()!.done()
        return
      case 'auth':
        if (this.handshake?.onAuth(packet) !== true) {
          this.protocolFailure(`the broker sent AUTH (reason 0x${(packet.reasonCode ?? 0).toString(16)}) that no exchange of ours expects`)
        }
        return
      case 'disconnect':
        this.failure ??= disconnectedError(this.url, packet)
        this.emit('disconnect', packet)
        return
      default:
        this.protocolFailure(`the broker sent ${packet.cmd.toUpperCase()}, which only clients send`)
    }
  }

  private onPublish(packet: IPublishPacket): void {
    const alias = packet.properties?.topicAlias
    if (alias !== undefined) {
      if (packet.topic) this.inboundAliases.set(alias, packet.topic)
      else packet.topic = this.inboundAliases.get(alias) ?? ''
    }
    const qos = packet.qos
    if (qos === 0) {
      this.deliver(packet)
    } else if (qos === 1) {
      this.deliver(packet)
      this.send(encodeAck(PacketType.PUBACK, packet.messageId ?? 0, this.version))
    } else {
      const id = packet.messageId ?? 0
      if (!this.awaitingRel.has(id)) {
        this.awaitingRel.add(id)
        this.deliver(packet)
      }
      this.send(encodeAck(PacketType.PUBREC, id, this.version))
    }
  }

  /**
   * Messages of a resumed session arrive with the CONNACK, before connect() has resolved and
   * anyone could listen: they wait here for the first 'message' listener (sub -c).
   */
  private deliver(packet: IPublishPacket): void {
    if (this.early === undefined) this.emit('message', packet)
    else if (this.early.length < MAX_EARLY_MESSAGES) this.early.push(packet)
  }

  private releaseEarly(event: string | symbol): void {
    if (event !== 'message' || this.early === undefined) return
    const early = this.early
    this.early = undefined
    ;(this as unknown as EventEmitter).off('newListener', this.releaseEarly)
    if (early.length > 0) process.nextTick(emitAll, this, early)
  }

  onDecodeError(message: string): void {
    this.protocolFailure(`malformed packet from the broker: ${message}`)
  }

  onPacketTooLarge(declared: number): void {
    this.protocolFailure(`the broker sent a packet of ${declared} bytes, larger than MQTT allows`)
  }

  private protocolFailure(message: string): void {
    this.destroy(new ProtocolError(`${this.url}: ${message}`))
  }
}

const PINGREQ = Buffer.from([0xc0, 0x00])

/** Messages held for the first listener; past this many, more are dropped (a client that never listens). */
const MAX_EARLY_MESSAGES = 10_000

function emitAll(client: MqttClient, packets: IPublishPacket[]): void {
  for (const p of packets) client.emit('message', p)
}

function destroyStream(stream: Duplex): void {
  stream.destroy()
}
