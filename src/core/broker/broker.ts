/**
 * The broker: listeners in, clients, sessions, routing and fan-out. It knows nothing of
 * transports beyond `Connection` (any Duplex); `handle()` accepts one from anywhere.
 *
 * Hot path (one PUBLISH): handlers/publish.ts → publish() → router.match() visits each
 * subscription synchronously → deliver() → Client.send(), which corks the stream and
 * lets flushAll() uncork every written-to client once per event-loop turn. A QoS 0
 * message is encoded once per (protocol family, retain flag) and the same Buffer goes
 * to every subscriber; QoS 1/2 copies one encoding and patches the packet id.
 */
import {EventEmitter} from 'node:events'
import type {BrokerConfig, Limits} from '../config.js'
import type {Logger} from '../logger.js'
import {noopLogger} from '../logger.js'
import {PacketType, encodeAck, encodePublish, withPacketId} from '../protocol/encode.js'
import type {QoS} from '../protocol/codec.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import {listen} from '../transport/registry.js'
import type {Connection, Listener, ListenerInfo} from '../transport/types.js'
import type {Auth} from './auth.js'
import {allowAll} from './auth.js'
import {Client, ClientState} from './client.js'
import type {Message, Outgoing} from './message.js'
import type {RetainedStore} from './retained-store.js'
import {MemoryRetainedStore} from './retained-store.js'
import {Router} from './router.js'
import type {Session, SubOpts} from './session.js'
import type {SessionStore} from './session-store.js'
import {MemorySessionStore} from './session-store.js'

export interface BrokerOptions {
  logger?: Logger
  auth?: Auth
  sessions?: SessionStore
  retained?: RetainedStore
}

export interface BrokerEvents {
  /** A client completed CONNECT. */
  client: [client: Client]
  /** A client's connection closed (after Will and session bookkeeping). */
  clientDisconnect: [client: Client]
  /** A client broke the protocol or was refused; its connection is closed. */
  clientError: [client: Client, error: Error]
  /** A handshake failed before MQTT started (wrong WS path or subprotocol, TLS). */
  rejected: [listenerId: string, reason: string, detail: string]
}

const NEVER = 0xffffffff

/** Per-PUBLISH fan-out state: the message and its encodings, shared by all subscribers. */
class FanOut {
  message: Message
  from: Client | null
  epoch: number
  targets: Session[]
  /** Encoded QoS 0 copies: index (v5 ? 2 : 0) + (retain ? 1 : 0). */
  readonly qos0: Array<Buffer | undefined> = [undefined, undefined, undefined, undefined]
  /** Encoded QoS 1/2 templates: index (v5 ? 4 : 0) + (qos - 1) * 2 + (retain ? 1 : 0). */
  readonly qosN: Array<Buffer | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]

  constructor(message: Message, from: Client | null, epoch: number, targets: Session[]) {
    this.message = message
    this.from = from
    this.epoch = epoch
    this.targets = targets
  }
}

function collect(fan: FanOut, session: Session, opts: SubOpts): void {
  if (opts.noLocal && fan.from !== null && fan.from.session === session) return
  if (session.matchEpoch !== fan.epoch) {
    session.matchEpoch = fan.epoch
    session.matchQos = opts.qos
    session.matchRetainAsPublished = opts.retainAsPublished
    session.matchSubscriptionIds = opts.subscriptionId === undefined ? undefined : [opts.subscriptionId]
    fan.targets.push(session)
    return
  }
  // Overlapping subscriptions: one delivery at the highest QoS, with every subscription id (MQTT-3.3.4-2/3).
  if (opts.qos > session.matchQos) session.matchQos = opts.qos
  if (opts.retainAsPublished) session.matchRetainAsPublished = true
  if (opts.subscriptionId !== undefined) (session.matchSubscriptionIds ??= []).push(opts.subscriptionId)
}

function flushAll(broker: Broker): void {
  broker.flushScheduled = false
  const list = broker.dirty
  for (let i = 0; i < list.length; i++) {
    const c = list[i]
    c.corked = false
    c.stream.uncork()
  }
  list.length = 0
}

function expireSession(broker: Broker, session: Session): void {
  session.expiryTimer = undefined
  if (session.client === undefined) broker.discardSession(session)
}

export class Broker extends EventEmitter<BrokerEvents> {
  readonly config: BrokerConfig
  readonly limits: Readonly<Limits>
  readonly log: Logger
  readonly auth: Auth
  readonly sessions: SessionStore
  readonly retained: RetainedStore
  readonly router = new Router<Session, SubOpts>()
  /** Connected clients by client id. */
  readonly clients = new Map<string, Client>()
  /** Every open connection, connected or not. */
  readonly connections = new Set<Client>()
  /** Running listeners (named so as not to shadow EventEmitter.listeners()). */
  readonly servers: Listener[] = []
  /** Clients written to in this turn, uncorked together by flushAll(). */
  readonly dirty: Client[] = []
  flushScheduled = false
  private epoch = 0
  private readonly scratch: Session[] = []
  private fanDepth = 0
  private closing = false

  constructor(config: BrokerConfig, options: BrokerOptions = {}) {
    super()
    this.config = config
    this.limits = config.limits
    this.log = options.logger ?? noopLogger
    this.auth = options.auth ?? allowAll
    this.sessions = options.sessions ?? new MemorySessionStore()
    this.retained = options.retained ?? new MemoryRetainedStore()
    // Reported through events; an EventEmitter 'error'-style crash must never come from a client.
    this.on('clientError', (client, error) => {
      if (this.log.debugEnabled) this.log.debug('client error', {clientId: client.clientId, remote: client.remote, error: error.message})
    })
  }

  /** Starts every configured listener. On failure, those already started are closed again. */
  async listen(): Promise<ListenerInfo[]> {
    const hooks = {
      onConnection: (conn: Connection) => this.handle(conn),
      onRejected: (listenerId: string, reason: string, detail: string) => {
        this.log.info('handshake rejected', {listener: listenerId, reason, detail})
        this.emit('rejected', listenerId, reason, detail)
      },
      maxPacketSize: this.limits.maxPacketSize,
    }
    try {
      for (const config of this.config.listeners) this.servers.push(await listen(config, hooks))
    } catch (error) {
      await Promise.all(this.servers.splice(0).map((l) => l.close()))
      throw error
    }
    return this.servers.map((l) => l.info)
  }

  /** Serves MQTT on any Duplex: the transports call this, and so can tests and embedders. */
  handle(conn: Connection): Client {
    const client = new Client(this, conn)
    this.connections.add(client)
    if (conn.stats) {
      conn.stats.accepted++
      if (++conn.stats.connections > conn.stats.peakConnections) conn.stats.peakConnections = conn.stats.connections
    }
    if (this.closing) client.close(ReasonCode.ServerShuttingDown, 'the broker is shutting down')
    if (this.log.debugEnabled) this.log.debug('connection', {remote: conn.remote, listener: conn.listenerId})
    return client
  }

  scheduleFlush(client: Client): void {
    this.dirty.push(client)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(flushAll, this)
    }
  }

  // ---- sessions ----

  /**
   * Binds a client to its session: takes over a connection with the same id, starts
   * fresh or resumes. Resolves with "session present".
   */
  async attachSession(client: Client, cleanStart: boolean, expiryInterval: number): Promise<boolean> {
    const previous = this.clients.get(client.clientId)
    if (previous && previous !== client) {
      // MQTT-3.1.4-3: the existing connection is closed; MQTT 5 clients learn why.
      this.clients.delete(client.clientId)
      previous.close(ReasonCode.SessionTakenOver, `session taken over by ${client.remote}`)
      this.detachSession(previous)
    }
    let session = await this.sessions.load(client.clientId)
    if (client.state !== ClientState.Connecting) return false
    const current = this.clients.get(client.clientId)
    if (current && current !== client) {
      // Another CONNECT with the same id won the race while we waited: it takes over.
      current.close(ReasonCode.SessionTakenOver, `session taken over by ${client.remote}`)
      this.detachSession(current)
    }
    let present = session !== undefined
    if (session && cleanStart) {
      this.discardSession(session)
      session = undefined
      present = false
    }
    session ??= await this.sessions.open(client.clientId)
    if (session.expiryTimer) clearTimeout(session.expiryTimer)
    session.expiryTimer = undefined
    session.expiryInterval = expiryInterval
    session.client = client
    client.session = session
    this.clients.set(client.clientId, client)
    return present
  }

  /** Unbinds a closing client from its session, keeping or ending the session. */
  detachSession(client: Client): void {
    const session = client.session
    if (!session || session.client !== client) return
    session.client = undefined
    if (session.expiryInterval === 0) {
      this.discardSession(session)
    } else if (session.expiryInterval !== NEVER) {
      session.expiryTimer = setTimeout(expireSession, session.expiryInterval * 1000, this, session)
      session.expiryTimer.unref()
    }
  }

  /** Ends a session: its subscriptions and queued messages are gone. */
  discardSession(session: Session): void {
    for (const filter of session.subscriptions.keys()) this.router.remove(filter, session)
    session.subscriptions.clear()
    session.queue = []
    session.inflight.clear()
    if (session.expiryTimer) clearTimeout(session.expiryTimer)
    session.expiryTimer = undefined
    void this.sessions.delete(session.clientId)
  }

  /** After CONNACK on a resumed session: resend what was unacknowledged (DUP), then the queue. */
  resumeDelivery(client: Client): void {
    const session = client.session!
    for (const entry of session.inflight.values()) {
      if (entry.state === 'pubrel') client.send(encodeAck(PacketType.PUBREL, entry.packetId, client.version))
      else client.send(this.encodeOutgoing(client, entry, true))
    }
    this.drainQueue(client)
  }

  // ---- routing ----

  /** Routes one application message to every matching subscription. Synchronous. */
  publish(message: Message, from: Client | null): void {
    if (message.retain) void this.retained.set(message)
    const targets = this.fanDepth++ === 0 ? this.scratch : []
    const fan = new FanOut(message, from, ++this.epoch, targets)
    try {
      this.router.match(message.topic, collect, fan)
      for (let i = 0; i < targets.length; i++) {
        const s = targets[i]
        const qos = (message.qos < s.matchQos ? message.qos : s.matchQos) as QoS
        this.deliver(s, message, qos, s.matchRetainAsPublished && message.retain, s.matchSubscriptionIds, fan)
      }
    } finally {
      targets.length = 0
      this.fanDepth--
    }
  }

  /** Sends (or queues) one message to one session at the given QoS. */
  deliver(session: Session, message: Message, qos: QoS, retain: boolean, subscriptionIds: number[] | undefined, fan?: FanOut): void {
    const client = session.client
    const online = client !== undefined && client.state === ClientState.Connected
    if (qos === 0) {
      if (!online) return // QoS 0 is not queued for offline sessions
      client.send(this.encodeQos0(client, message, retain, subscriptionIds, fan))
      return
    }
    if (online && session.inflight.size < client.inflightMax && session.queue.length === 0) {
      this.sendOutgoing(client, {message, qos, retain, subscriptionIds, packetId: 0, state: 'publish'}, fan)
    } else {
      session.enqueue({message, qos, retain, subscriptionIds}, this.limits.maxQueuedMessages)
    }
  }

  /** Moves queued messages into the inflight window while there is room. */
  drainQueue(client: Client): void {
    const session = client.session!
    while (session.queue.length > 0 && session.inflight.size < client.inflightMax && client.state === ClientState.Connected) {
      const q = session.queue.shift()!
      this.sendOutgoing(client, {message: q.message, qos: q.qos, retain: q.retain, subscriptionIds: q.subscriptionIds, packetId: 0, state: 'publish'})
    }
  }

  private sendOutgoing(client: Client, entry: Outgoing, fan?: FanOut): void {
    const session = client.session!
    const id = session.nextPacketId()
    entry.packetId = id
    session.inflight.set(id, entry)
    if (fan !== undefined && entry.subscriptionIds === undefined) {
      const v5 = client.version === 5
      const idx = (v5 ? 4 : 0) + (entry.qos - 1) * 2 + (entry.retain ? 1 : 0)
      let template = fan.qosN[idx]
      if (template === undefined) {
        template = this.encodeOutgoing(client, entry, false)
        fan.qosN[idx] = template
        client.send(template)
        return
      }
      client.send(withPacketId(template, id))
      return
    }
    client.send(this.encodeOutgoing(client, entry, false))
  }

  private encodeOutgoing(client: Client, entry: Outgoing, dup: boolean): Buffer {
    const m = entry.message
    return encodePublish(client.version, m.topic, m.payload as Buffer, entry.qos, entry.retain, dup, entry.packetId, outProperties(client, m, entry.subscriptionIds))
  }

  private encodeQos0(client: Client, message: Message, retain: boolean, subscriptionIds: number[] | undefined, fan?: FanOut): Buffer {
    if (fan === undefined || (subscriptionIds !== undefined && client.version === 5)) {
      return encodePublish(client.version, message.topic, message.payload as Buffer, 0, retain, false, 0, outProperties(client, message, subscriptionIds))
    }
    const idx = (client.version === 5 ? 2 : 0) + (retain ? 1 : 0)
    let buf = fan.qos0[idx]
    if (buf === undefined) {
      buf = encodePublish(client.version, message.topic, message.payload as Buffer, 0, retain, false, 0, outProperties(client, message, undefined))
      fan.qos0[idx] = buf
    }
    return buf
  }

  // ---- closing ----

  onClientClosed(client: Client, wasConnected: boolean): void {
    this.connections.delete(client)
    if (client.conn.stats) client.conn.stats.connections--
    if (wasConnected && client.session) {
      if (this.clients.get(client.clientId) === client) this.clients.delete(client.clientId)
      this.detachSession(client)
    }
    if (client.will && !client.graceful && wasConnected) {
      const will = client.will
      client.will = undefined
      this.publish(will, null)
    }
    if (this.log.debugEnabled) this.log.debug('closed', {clientId: client.clientId, remote: client.remote, reason: client.closeReason})
    this.emit('clientDisconnect', client)
  }

  /** Stops the listeners, says goodbye to every client (MQTT 5: DISCONNECT 0x8B) and waits for them. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    const listeners = this.servers.splice(0)
    const waits = [...this.connections].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.state === ClientState.Closed) return resolve()
          c.stream.once('close', () => resolve())
          c.graceful = true // a broker shutdown is not the client's failure: no Will
          c.close(ReasonCode.ServerShuttingDown, 'the broker is shutting down')
        }),
    )
    await Promise.all([...listeners.map((l) => l.close()), ...waits])
  }
}

type Props = NonNullable<Message['properties']>

/** PUBLISH properties for one receiver: MQTT 5 only, with its subscription ids. */
function outProperties(client: Client, message: Message, subscriptionIds: number[] | undefined): Props | undefined {
  if (client.version !== 5) return undefined
  const p = message.properties
  if (subscriptionIds === undefined) return p
  return {...p, subscriptionIdentifier: subscriptionIds.length === 1 ? subscriptionIds[0] : (subscriptionIds as unknown as number)}
}
