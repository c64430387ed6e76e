/**
 * The MQTT client engine behind `pub`, `sub` and `bench`: one connection over any
 * transport, QoS 0/1/2 both ways, MQTT 3.1, 3.1.1 and 5. Lean on purpose: publishing
 * allocates no promise (callbacks; publishAsync is a convenience on top), each packet is
 * one encoded Buffer, and writes are corked and flushed once per event-loop turn.
 *
 * This file is the connection's life (connect, the packets received, end and close) and
 * the public API; the CONNECT exchange is handshake.ts, publishing outbox.ts, the
 * keepalive keepalive.ts, the writes writer.ts, the error texts refusals.ts.
 */
import {randomBytes} from 'node:crypto'
import {EventEmitter} from 'node:events'
import type {Duplex} from 'node:stream'
import type {Scheme} from '../config.js'
import {ProtocolError, TransportError} from '../errors.js'
import {Decoder, encode} from '../protocol/codec.js'
import type {DecoderSink, IConnackPacket, IDisconnectPacket, IPublishPacket, Packet, ProtocolVersion, QoS} from '../protocol/codec.js'
import {PacketType, encodeAck} from '../protocol/encode.js'
import {dial} from '../transport/dial.js'
import type {WireCounter} from '../transport/wire-counter.js'
import {Handshake, checkAuthMethod} from './handshake.js'
import {MemoryInflightStore} from './inflight-store.js'
import type {PublishCallback} from './inflight-store.js'
import {Keepalive} from './keepalive.js'
import {parseUrl} from './options.js'
import {MAX_QOS_ERROR, Outbox, callPublished} from './outbox.js'
import {PacketIdAllocator} from './packet-id.js'
import {closedError, disconnectedError, refused} from './refusals.js'
import {describeIncoming, describeOutgoing} from './trace.js'
import type {ClientEvents, ClientOptions, PublishOptions, Subscription} from './types.js'
import {PacketWriter} from './writer.js'

interface Pending {
  resolve(codes: number[]): void
  reject(error: Error): void
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
  failure: Error | undefined
  closed = false
  /** Milliseconds from writing CONNECT to CONNACK: the broker's authentication and session set-up. */
  handshakeMs = 0
  private readonly writer: PacketWriter
  private readonly ids = new PacketIdAllocator()
  private readonly outbox: Outbox
  private readonly keepalive: Keepalive
  private readonly pendingAcks = new Map<number, Pending>()
  private readonly awaitingRel = new Set<number>()
  private readonly inboundAliases = new Map<number, string>()
  private ending = false
  private readonly trace: ((line: string) => void) | undefined
  /** Messages received before anyone listened; undefined once someone does. */
  private early: IPublishPacket[] | undefined = []
  /** The CONNECT exchange, until CONNACK. */
  private handshake: Handshake | undefined

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
    this.trace = options.trace
    this.writer = new PacketWriter(stream, this.version, options.trace)
    this.outbox = new Outbox(this, this.writer, this.version, this.ids, options.inflightStore ?? new MemoryInflightStore())
    this.keepalive = new Keepalive(this, this.writer, (options.keepalive ?? 60) * 1000)
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
    const outbox = this.outbox
    if (props?.assignedClientIdentifier) this.clientId = props.assignedClientIdentifier
    if (props?.receiveMaximum) outbox.sendMaximum = props.receiveMaximum
    if (props?.topicAliasMaximum) outbox.topicAliasMaximum = props.topicAliasMaximum
    if (props?.maximumPacketSize) outbox.maximumPacketSize = props.maximumPacketSize
    if (props?.maximumQoS !== undefined) outbox.maximumQoS = props.maximumQoS as QoS
    if (props?.retainAvailable === false) outbox.retainAvailable = false
    if (props?.serverKeepAlive !== undefined) this.keepalive.ms = props.serverKeepAlive * 1000
    this.keepalive.start()
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
    this.outbox.publish(topic, body, options, callback)
  }

  publishAsync(topic: string, payload: Buffer | string, options: PublishOptions = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      this.publish(topic, payload, options, (error, code) => (error ? reject(error) : resolve(code)))
    })
  }

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
      this.writer.send(build(id))
    })
  }

  /**
   * Sends PINGREQ and resolves at its PINGRESP: the broker read everything sent before it.
   * `pub` asks this before leaving after QoS 0 messages, which have no acknowledgement, so a
   * broker that dropped the connection over one of them is noticed. Rejects if the connection closes.
   */
  ping(): Promise<void> {
    if (!this.connected) return Promise.reject(this.notConnected())
    return this.keepalive.ping()
  }

  // ---- closing ----

  /** Sends DISCONNECT (MQTT 5: with the reason code) and closes; resolves when the socket is closed. */
  end(reasonCode = 0, properties?: NonNullable<IDisconnectPacket['properties']>): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      this.once('close', () => resolve())
      if (!this.ending) {
        this.ending = true
        this.keepalive.stop()
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
    this.keepalive.stop()
    this.stream.destroy()
  }

  /** Runs once when the stream closes: fails everything still waiting. */
  onClosed(): void {
    if (this.closed) return
    this.closed = true
    this.keepalive.stop()
    const error = this.ending && !this.failure ? undefined : (this.failure ?? closedError(this.url, this.connack !== undefined, this.version, this.outbox.largestPublish))
    const pendingError = error ?? new TransportError(`${this.url}: the connection was closed`)
    this.keepalive.failAll(pendingError)
    for (const p of this.pendingAcks.values()) p.reject(pendingError)
    this.pendingAcks.clear()
    this.outbox.failAll(pendingError)
    if (this.handshake !== undefined) this.handshake.onClose(error)
    this.emit('close', error)
  }

  private notConnected(): Error {
    return new TransportError(`${this.url}: not connected${this.failure ? ` (${this.failure.message})` : ''}`)
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
        return this.outbox.settle(packet.messageId ?? 0, code >= MAX_QOS_ERROR ? refused('PUBACK', code, packet.properties?.reasonString) : undefined, code)
      }
      case 'pubrec':
        return this.outbox.onPubrec(packet)
      case 'pubcomp':
        return this.outbox.settle(packet.messageId ?? 0, undefined, packet.reasonCode ?? 0)
      case 'pubrel': {
        const id = packet.messageId ?? 0
        const known = this.awaitingRel.delete(id)
        this.writer.send(encodeAck(PacketType.PUBCOMP, id, this.version, known ? 0 : 0x92))
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
        return this.keepalive.onPingresp()
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
      this.writer.send(encodeAck(PacketType.PUBACK, packet.messageId ?? 0, this.version))
    } else {
      const id = packet.messageId ?? 0
      if (!this.awaitingRel.has(id)) {
        this.awaitingRel.add(id)
        this.deliver(packet)
      }
      this.writer.send(encodeAck(PacketType.PUBREC, id, this.version))
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

/** Messages held for the first listener; past this many, more are dropped (a client that never listens). */
const MAX_EARLY_MESSAGES = 10_000

function emitAll(client: MqttClient, packets: IPublishPacket[]): void {
  for (const p of packets) client.emit('message', p)
}

function destroyStream(stream: Duplex): void {
  stream.destroy()
}
