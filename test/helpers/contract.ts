/**
 * Helpers for the broker contract suite (test/contract/**): MQTT.js clients with an inbox
 * that records every message from the first byte on, raw "wires" that speak exact MQTT
 * bytes over any of the four transports, and bookkeeping so that every socket is closed.
 */
import net from 'node:net'
import mqtt from 'mqtt'
import type {IClientOptions, IConnackPacket, IPublishPacket, MqttClient} from 'mqtt'
import mqttPacket from 'mqtt-packet'
import type {Packet} from 'mqtt-packet'
import WebSocket from 'ws'
import type {Broker} from '../../src/core/broker/broker.js'
import type {BrokerConfigInput, Scheme} from '../../src/core/config.js'
import {startBroker} from './broker.js'
import type {TestBroker} from './broker.js'
import {testCertificate} from './certs.js'
import {rawTcp, rawWs, varint} from './raw.js'
import type {RawPeer} from './raw.js'

export type Version = 4 | 5
export const VERSIONS: readonly Version[] = [4, 5]

let counter = 0
/** A name unique within this test run, for client ids and topics. */
export function uid(prefix = 'c'): string {
  return `${prefix}-${process.pid}-${++counter}`
}

/** Resolves with `p`, or rejects after `ms` saying what was awaited. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

// ---- cleanup -------------------------------------------------------------------------------

/** Everything a test opened; closeAll() in afterEach closes it whatever happened. */
export class Tracker {
  private readonly items: Array<() => void> = []

  mqtt(client: MqttClient): MqttClient {
    this.items.push(() => client.end(true))
    return client
  }

  raw<T extends {close(): void}>(peer: T): T {
    this.items.push(() => peer.close())
    return peer
  }

  closeAll(): void {
    for (const close of this.items.splice(0)) {
      try {
        close()
      } catch {
        // already closed
      }
    }
  }
}

// ---- brokers -------------------------------------------------------------------------------

/** What useSuiteBroker() gives a describe block. */
export interface SuiteBroker {
  /** The block's broker: started in before(), closed in after(). Read it in hooks and tests. */
  readonly tb: TestBroker
  /** Its sockets are closed after every test, and in after(). */
  readonly t: Tracker
}

/**
 * The usual contract setup, called inside describe(): one broker with a listener per
 * transport for the whole block, and a Tracker emptied after every test. Mocha runs hooks
 * in the order they were registered: a before() the block adds later can use `tb`, and an
 * after() it adds later runs once the broker is closed.
 */
export function useSuiteBroker(input: BrokerConfigInput = {}): SuiteBroker {
  const t = new Tracker()
  let tb: TestBroker | undefined
  before(async () => {
    tb = await startBroker(input)
  })
  afterEach(() => t.closeAll())
  after(async () => {
    t.closeAll()
    await tb?.close()
  })
  return {
    get tb(): TestBroker {
      if (!tb) throw new Error('the suite broker is started in before(): use it in hooks and tests')
      return tb
    },
    t,
  }
}

/** Runs `fn` against a broker of its own with other settings; closes `t` and the broker after. */
export async function withBroker(t: Tracker, input: BrokerConfigInput, fn: (b: TestBroker) => Promise<void>): Promise<void> {
  const b = await startBroker(input)
  try {
    await fn(b)
  } finally {
    t.closeAll()
    await b.close()
  }
}

// ---- MQTT.js -------------------------------------------------------------------------------

export interface Received {
  topic: string
  payload: Buffer
  packet: IPublishPacket
}

/** Every PUBLISH a client received, in wire order, read with a cursor. */
export class Inbox {
  readonly all: Received[] = []
  private cursor = 0
  private wake: (() => void) | undefined

  push(m: Received): void {
    this.all.push(m)
    this.wake?.()
  }

  /** The next n unread messages; rejects when they do not arrive in time. */
  async take(n: number, timeoutMs = 3000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs
    while (this.all.length - this.cursor < n) {
      const left = deadline - Date.now()
      if (left <= 0) {
        const got = this.all.slice(this.cursor).map((m) => `${m.topic}=${m.payload.toString()}`)
        throw new Error(`expected ${n} more messages, got ${got.length}: ${got.join(', ')}`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wake = undefined
    }
    const out = this.all.slice(this.cursor, this.cursor + n)
    this.cursor += n
    return out
  }

  async one(timeoutMs = 3000): Promise<Received> {
    return (await this.take(1, timeoutMs))[0]
  }
}

export interface JsClient {
  client: MqttClient
  connack: IConnackPacket
  inbox: Inbox
}

/** Client options for a scheme: the test CA for TLS, no reconnect. */
export async function jsOptions(url: string, options: IClientOptions): Promise<IClientOptions> {
  const cert = await testCertificate()
  const tls = url.startsWith('mqtts:') || url.startsWith('wss:')
  return {reconnectPeriod: 0, connectTimeout: 5000, ...(tls ? {ca: cert.cert, servername: 'localhost'} : {}), ...options}
}

/**
 * Connects MQTT.js and resolves with its CONNACK. The inbox listens before CONNECT is
 * sent, so messages that arrive right behind the CONNACK (a resumed session) are kept.
 */
export async function openJs(tracker: Tracker, url: string, options: IClientOptions = {}): Promise<JsClient> {
  const client = tracker.mqtt(mqtt.connect(url, await jsOptions(url, options)))
  // MQTT.js leaves Nagle on for TCP/TLS: a small write after an unanswered PUBACK would wait ~40 ms for a delayed ACK.
  ;(client.stream as {setNoDelay?: (on: boolean) => void}).setNoDelay?.(true)
  const inbox = new Inbox()
  // Recorded as they come off the wire (MQTT.js emits a QoS 2 'message' only at PUBREL, out of order).
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'publish') inbox.push({topic: packet.topic, payload: packet.payload as Buffer, packet})
  })
  const connack = await within(
    new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve)
      client.once('error', reject)
      client.once('close', () => reject(new Error('closed before CONNACK')))
    }),
    5000,
    `CONNACK on ${url}`,
  )
  client.on('error', () => {}) // later errors (the broker closing us) are the test's business
  return {client, connack, inbox}
}

/** MQTT.js options for one protocol version; a persistent session in 5.0 needs an expiry. */
export function versionOptions(version: Version, persistent = false, expiry = 300): IClientOptions {
  if (version === 4) return {protocolVersion: 4, clean: !persistent}
  return persistent ? {protocolVersion: 5, clean: false, properties: {sessionExpiryInterval: expiry}} : {protocolVersion: 5, clean: true}
}

/** Waits until the broker has fully closed a client's connection (Will and session done). */
export function brokerClosed(broker: Broker, clientId: string, timeoutMs = 4000): Promise<void> {
  let on: ((c: {clientId: string}) => void) | undefined
  const closed = new Promise<void>((resolve) => {
    on = (c) => {
      if (c.clientId === clientId) resolve()
    }
    broker.on('clientDisconnect', on)
  })
  return within(closed, timeoutMs, `the broker to close client ${clientId}`).finally(() => broker.off('clientDisconnect', on!))
}

/** Resolves when an MQTT.js client's connection closes. */
export function jsClosed(client: MqttClient, timeoutMs = 4000): Promise<void> {
  return within(new Promise<void>((resolve) => client.once('close', () => resolve())), timeoutMs, 'the MQTT.js client to close')
}

// ---- raw wires -----------------------------------------------------------------------------

export interface Frame {
  /** The exact bytes of one packet. */
  raw: Buffer
  packet: Packet
}

/** A raw connection over any transport, that sends and reads whole MQTT packets. */
export class Wire {
  readonly peer: Peer
  readonly version: Version
  private offset = 0
  private readonly parser: ReturnType<typeof mqttPacket.parser>
  private parsed: Packet | undefined
  private closedFlag = false

  constructor(peer: Peer, version: Version) {
    this.peer = peer
    this.version = version
    this.parser = mqttPacket.parser({protocolVersion: version})
    this.parser.on('packet', (p: Packet) => {
      this.parsed = p
    })
    this.parser.on('error', (e: Error) => {
      throw e
    })
    void peer.closed.then(() => {
      this.closedFlag = true
    })
  }

  get isClosed(): boolean {
    return this.closedFlag
  }

  send(p: Packet | Buffer): void {
    this.peer.send(Buffer.isBuffer(p) ? p : encodePacket(p, this.version))
  }

  /** The next packet from the broker. */
  async next(timeoutMs = 3000): Promise<Frame> {
    const start = this.offset
    let buf = await this.peer.waitBytes(start + 2, timeoutMs)
    let len = 0
    let mul = 1
    let i = start + 1
    for (let k = 0; k < 4; k++) {
      buf = await this.peer.waitBytes(i + 1, timeoutMs)
      len += (buf[i] & 0x7f) * mul
      mul *= 128
      if ((buf[i++] & 0x80) === 0) break
    }
    buf = await this.peer.waitBytes(i + len, timeoutMs)
    const raw = Buffer.from(buf.subarray(start, i + len))
    this.offset = i + len
    this.parsed = undefined
    this.parser.parse(raw)
    if (!this.parsed) throw new Error(`could not parse ${raw.toString('hex')}`)
    return {raw, packet: this.parsed}
  }

  /** The next packet, which must be of the given kind. */
  async expect<C extends Packet['cmd']>(cmd: C, timeoutMs = 3000): Promise<Extract<Packet, {cmd: C}> & {raw: Buffer}> {
    const f = await this.next(timeoutMs)
    if (f.packet.cmd !== cmd) throw new Error(`expected ${cmd}, got ${f.packet.cmd} (${f.raw.toString('hex')})`)
    return Object.assign(f.packet as Extract<Packet, {cmd: C}>, {raw: f.raw})
  }

  /** Resolves when the broker closed the connection; fails when it stays open. */
  async closed(timeoutMs = 3000): Promise<void> {
    await within(this.peer.closed, timeoutMs, 'the broker to close the connection')
  }

  /** Bytes received beyond the packets read so far. */
  unread(): Buffer {
    return this.peer.received().subarray(this.offset)
  }

  close(): void {
    this.peer.close()
  }
}

export function encodePacket(p: Packet, version: Version): Buffer {
  return mqttPacket.generate(p, {protocolVersion: version})
}

/** A raw peer: the socket (TCP, TLS) or WebSocket under it is there to pause reading. */
export type Peer = RawPeer & {socket?: net.Socket; ws?: WebSocket}

/** A raw socket to the broker's listener for `scheme`. */
export async function rawPeer(tb: TestBroker, scheme: Scheme): Promise<Peer> {
  if (scheme === 'mqtt' || scheme === 'mqtts') return rawTcp(tb.ports[scheme], scheme === 'mqtts', {noDelay: true})
  return rawWs(tb.urls[scheme])
}

export async function openWire(tracker: Tracker, tb: TestBroker, scheme: Scheme, version: Version): Promise<Wire> {
  return tracker.raw(new Wire(await rawPeer(tb, scheme), version))
}

export interface ConnectFields {
  clientId?: string
  clean?: boolean
  keepalive?: number
  will?: {topic: string; payload: Buffer | string; qos?: 0 | 1 | 2; retain?: boolean}
  properties?: Record<string, unknown>
}

export function connectPacket(version: Version, f: ConnectFields = {}): Packet {
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: version,
    clean: f.clean ?? true,
    clientId: f.clientId ?? uid('raw'),
    keepalive: f.keepalive ?? 0,
    will: f.will ? {qos: 0, retain: false, ...f.will, payload: Buffer.from(f.will.payload)} : undefined,
    properties: f.properties,
  } as Packet
}

/** Opens a raw wire, sends CONNECT and reads the CONNACK (which must accept). */
export async function connectWire(
  tracker: Tracker,
  tb: TestBroker,
  scheme: Scheme,
  version: Version,
  f: ConnectFields = {},
): Promise<{wire: Wire; connack: mqttPacket.IConnackPacket}> {
  const wire = await openWire(tracker, tb, scheme, version)
  wire.send(connectPacket(version, f))
  const connack = await wire.expect('connack')
  const code = version === 5 ? connack.reasonCode : connack.returnCode
  if (code !== 0) throw new Error(`CONNECT refused with ${code}`)
  return {wire, connack}
}

/** Subscribes on a raw wire and returns the SUBACK codes. */
export async function rawSubscribe(wire: Wire, filters: Array<string | {topic: string; qos: 0 | 1 | 2}>, messageId = 1): Promise<number[]> {
  const subscriptions = filters.map((f) => (typeof f === 'string' ? {topic: f, qos: 0 as const} : f))
  wire.send({cmd: 'subscribe', messageId, subscriptions} as Packet)
  const suback = await wire.expect('suback')
  return suback.granted as number[]
}

/**
 * Expects the broker to close the connection; an MQTT 5 client first gets DISCONNECT with
 * `reasonCode` (or one of several, where the spec allows either).
 */
export async function expectViolation(wire: Wire, reasonCode: number | readonly number[] | undefined): Promise<void> {
  if (wire.version === 5 && reasonCode !== undefined) {
    const allowed = typeof reasonCode === 'number' ? [reasonCode] : reasonCode
    const d = await wire.expect('disconnect')
    const hexes = allowed.map((c) => `0x${c.toString(16)}`).join(' or ')
    if (!allowed.includes(d.reasonCode ?? 0)) throw new Error(`expected DISCONNECT ${hexes}, got 0x${(d.reasonCode ?? 0).toString(16)}`)
  }
  await wire.closed()
  // Nothing after the DISCONNECT (or, in 3.1.1, nothing at all).
  if (wire.unread().length > 0) throw new Error(`unexpected bytes before close: ${wire.unread().toString('hex')}`)
}

export interface RawPublishFields {
  topic: string
  payload?: Buffer | string
  qos?: 0 | 1 | 2 | 3
  id?: number
  dup?: boolean
  retain?: boolean
  /** MQTT 5: the encoded property bytes (without their length). */
  props?: Buffer
}

/**
 * A PUBLISH written byte by byte, so that tests can send what an encoder would refuse
 * (wildcards in the topic, QoS 3, packet id 0, any property).
 */
export function rawPublish(version: Version, f: RawPublishFields): Buffer {
  const qos = f.qos ?? 0
  const topic = Buffer.from(f.topic)
  const parts: Buffer[] = [Buffer.from([topic.length >> 8, topic.length & 0xff]), topic]
  if (qos > 0) parts.push(Buffer.from([(f.id ?? 1) >> 8, (f.id ?? 1) & 0xff]))
  if (version === 5) {
    const props = f.props ?? Buffer.alloc(0)
    parts.push(varint(props.length), props)
  }
  parts.push(Buffer.from(f.payload ?? ''))
  const body = Buffer.concat(parts)
  const first = 0x30 | (f.dup ? 0x08 : 0) | (qos << 1) | (f.retain ? 1 : 0)
  return Buffer.concat([Buffer.from([first]), varint(body.length), body])
}

/** A fixed header alone: packet type/flags byte and a Remaining Length, no body. */
export function headerOnly(first: number, remainingLength: number): Buffer {
  return Buffer.concat([Buffer.from([first]), varint(remainingLength)])
}

export function versionLabel(version: Version): string {
  return version === 4 ? '3.1.1' : '5.0'
}

/** Turns a scenario's outcome into a value, so that it can run in the background without an unhandled rejection. */
export function settle(p: Promise<unknown>): Promise<Error | undefined> {
  return p.then(
    () => undefined,
    (error: Error) => error,
  )
}

/** Polls the broker's router until some subscription matches `topic` (for clients that cannot tell us they subscribed). */
export async function waitForSubscriber(broker: Broker, topic: string, timeoutMs = 5000): Promise<void> {
  for (let waited = 0; waited <= timeoutMs; waited += 20) {
    if (broker.subscribersOf(topic) > 0) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`no subscription to ${topic} appeared within ${timeoutMs} ms`)
}
