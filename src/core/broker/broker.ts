/**
 * The broker: clients, sessions, routing and fan-out. It knows nothing of transports
 * beyond `Connection` (any Duplex); `handle()` accepts one from anywhere. Its listeners
 * (configured and added at runtime) are managed by listener-manager.ts.
 *
 * Hot path (one PUBLISH): handlers/publish.ts → publish() → router.match() visits each
 * subscription synchronously → deliver() → Client.send(), which holds the packets until
 * flushAll() flushes every written-to client once per event-loop turn (one write each). A QoS 0
 * message is encoded once per (protocol family, retain flag) and the same Buffer goes
 * to every subscriber — or not encoded at all: a QoS 0 PUBLISH without properties goes
 * out as the bytes it came in (Decoder.publishWire) to subscribers of its protocol family.
 * QoS 1/2 copies one encoding and patches the packet id. The router remembers what the
 * wildcard filters match per topic, and the outermost publish reuses one FanOut. A shared
 * subscription group is one subscriber in the router that hands each message to one
 * member (shared.ts).
 *
 * Flow control: a client whose socket holds more than maxOutputBytes is congested
 * (client.ts): QoS 0 to it is dropped and counted, QoS 1/2 waits in its session queue,
 * which is bounded by count and bytes (queue.ts) — so one slow consumer never makes
 * the broker buffer without bound or wait for it.
 */
import {EventEmitter} from 'node:events'
import type {BrokerConfig, Limits, ListenerInput} from '../config.js'
import type {Logger} from '../logger.js'
import {noopLogger} from '../logger.js'
import {PacketType, encodeAck, encodePublish, withPacketId} from '../protocol/encode.js'
import type {QoS} from '../protocol/codec.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import {countRejected, trackSocket} from '../transport/listener-stats.js'
import type {ListenerCounters} from '../transport/listener-stats.js'
import type {Connection, ListenHooks, Listener, ListenerInfo} from '../transport/types.js'
import type {Auth} from './auth.js'
import {allowAll} from './auth.js'
import {Client, ClientState} from './client.js'
import type {Message, Outgoing, Queued} from './message.js'
import {isExpired, stampExpiry} from './message.js'
import type {BrokerMetrics} from './metrics.js'
import {newBrokerMetrics} from './metrics.js'
import type {RetainedStore} from './retained-store.js'
import {MemoryRetainedStore} from './retained-store.js'
import {Router} from './router.js'
import type {Session, SubOpts} from './session.js'
import type {SessionStore} from './session-store.js'
import {MemorySessionStore} from './session-store.js'
import {SharedGroup, sharedKey} from './shared.js'
import {Deadline} from './timers.js'
import {ListenerManager} from './listener-manager.js'
import type {ListenerStatus, ListenerUpdate, ManagedListener} from './listener-manager.js'

export {ListenerManager, ListenerOpError} from './listener-manager.js'
export type {ListenerState, ListenerStatus, ListenerUpdate, ManagedListener} from './listener-manager.js'

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

/** What the router holds: a session's own subscription, or a shared subscription group. */
export type Subscriber = Session | SharedGroup

const NEVER = 0xffffffff

/** Router options of a group entry; each member's own options live in the group. */
const GROUP_OPTS: SubOpts = Object.freeze({qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 2}) as SubOpts

/** Per-PUBLISH fan-out state: the message and its encodings, shared by all subscribers. */
class FanOut {
  readonly broker: Broker
  message: Message
  from: Client | null
  epoch: number
  targets: Session[]
  /** Subscriptions (and groups) that matched, No Local ones excepted. */
  matched = 0
  /** The inbound PUBLISH's own bytes, when subscribers of its protocol class get exactly those at QoS 0 (Decoder.publishWire). */
  wire: Buffer | undefined = undefined
  /** Whether `wire` is MQTT 5 (with its empty property length) or 3.1/3.1.1. */
  wireV5 = false
  /** Encoded QoS 0 copies: index (v5 ? 2 : 0) + (retain ? 1 : 0). */
  readonly qos0: Array<Buffer | undefined> = [undefined, undefined, undefined, undefined]
  /** Encoded QoS 1/2 templates: index (v5 ? 4 : 0) + (qos - 1) * 2 + (retain ? 1 : 0). */
  readonly qosN: Array<Buffer | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]

  constructor(broker: Broker, message: Message, from: Client | null, epoch: number, targets: Session[]) {
    this.broker = broker
    this.message = message
    this.from = from
    this.epoch = epoch
    this.targets = targets
  }

  /** Makes the broker's reusable FanOut ready for the next message (no allocation per publish). */
  reset(message: Message, from: Client | null, epoch: number, wire: Buffer | undefined): this {
    this.message = message
    this.from = from
    this.epoch = epoch
    this.matched = 0
    this.wire = wire
    this.wireV5 = from !== null && from.version === 5
    const q0 = this.qos0
    q0[0] = q0[1] = q0[2] = q0[3] = undefined
    const qn = this.qosN
    qn[0] = qn[1] = qn[2] = qn[3] = qn[4] = qn[5] = qn[6] = qn[7] = undefined
    return this
  }
}

function collect(fan: FanOut, s: Subscriber, opts: SubOpts): void {
  if (s.isGroup) {
    fan.matched++
    fan.broker.deliverShared(s, fan)
    return
  }
  if (opts.noLocal && fan.from !== null && fan.from.session === s) return
  fan.matched++
  if (s.matchEpoch !== fan.epoch) {
    s.matchEpoch = fan.epoch
    s.matchQos = opts.qos
    s.matchRetainAsPublished = opts.retainAsPublished
    s.matchSubscriptionIds = opts.subscriptionId === undefined ? undefined : [opts.subscriptionId]
    fan.targets.push(s)
    return
  }
  // Overlapping subscriptions: one delivery at the highest QoS, with every subscription id (MQTT-3.3.4-2/3).
  if (opts.qos > s.matchQos) s.matchQos = opts.qos
  if (opts.retainAsPublished) s.matchRetainAsPublished = true
  if (opts.subscriptionId !== undefined) (s.matchSubscriptionIds ??= []).push(opts.subscriptionId)
}

function flushAll(broker: Broker): void {
  broker.flushScheduled = false
  const list = broker.dirty
  for (let i = 0; i < list.length; i++) list[i].flush()
  list.length = 0
}

function online(session: Session): boolean {
  return session.client !== undefined && session.client.state === ClientState.Connected
}

export class Broker extends EventEmitter<BrokerEvents> {
  readonly config: BrokerConfig
  readonly limits: Readonly<Limits>
  readonly log: Logger
  readonly auth: Auth
  readonly sessions: SessionStore
  readonly retained: RetainedStore
  readonly router = new Router<Subscriber, SubOpts>()
  /** Shared subscription groups by "$share/GROUP/FILTER". */
  readonly sharedGroups = new Map<string, SharedGroup>()
  readonly metrics: BrokerMetrics = newBrokerMetrics()
  /** Connected clients by client id. */
  readonly clients = new Map<string, Client>()
  /** Every open connection, connected or not. */
  readonly connections = new Set<Client>()
  readonly listenerManager: ListenerManager
  /** Clients written to in this turn, uncorked together by flushAll(). */
  readonly dirty: Client[] = []
  flushScheduled = false
  private epoch = 0
  private readonly scratch: Session[] = []
  /** The FanOut of the outermost publish (a Will or retained message published during delivery nests). */
  private readonly scratchFan: FanOut
  private fanDepth = 0
  private closing = false

  constructor(config: BrokerConfig, options: BrokerOptions = {}) {
    super()
    this.config = config
    this.limits = config.limits
    this.scratchFan = new FanOut(this, undefined as unknown as Message, null, 0, this.scratch)
    this.log = options.logger ?? noopLogger
    this.auth = countAuthRejects(options.auth ?? allowAll, this)
    this.sessions = options.sessions ?? new MemorySessionStore()
    this.retained = options.retained ?? new MemoryRetainedStore()
    const hooks: ListenHooks = {
      onConnection: (conn: Connection) => {
        this.handle(conn)
      },
      onRejected: (listenerId: string, reason: string, detail: string) => {
        this.log.info('handshake rejected', {listener: listenerId, reason, detail})
        this.emit('rejected', listenerId, reason, detail)
      },
      maxPacketSize: this.limits.maxPacketSize,
    }
    this.listenerManager = new ListenerManager(config, hooks, this.log, (stats, reason) => {
      const waits: Array<Promise<void>> = []
      for (const c of this.connections) if (c.stats === stats) waits.push(closeClient(c, reason))
      return waits
    })
    // Reported through events; an EventEmitter 'error'-style crash must never come from a client.
    this.on('clientError', (client, error) => {
      if (this.log.debugEnabled) this.log.debug('client error', {clientId: client.clientId, remote: client.remote, error: error.message})
    })
  }

  /** Starts every configured listener. On failure, those already started are closed again. */
  listen(): Promise<ListenerInfo[]> {
    return this.listenerManager.listenAll(this.config.listeners)
  }

  // ---- listeners at runtime (listener-manager.ts) ----

  /** Every listener, running or stopped, by id, in the order they were added. */
  get listenerTable(): ReadonlyMap<string, ManagedListener> {
    return this.listenerManager.table
  }

  /** Running listeners (named so as not to shadow EventEmitter.listeners()). */
  get servers(): readonly Listener[] {
    return this.listenerManager.running
  }

  /** Every listener with its state and counters. */
  listenerStatuses(): ListenerStatus[] {
    return this.listenerManager.statuses()
  }

  /** One listener's state and counters; throws ListenerOpError (404) for an unknown id. */
  listenerStatus(id: string): ListenerStatus {
    return this.listenerManager.status(id)
  }

  /** Broker-wide totals: every listener's counters summed, plus the broker's own metrics. */
  totals(): ListenerCounters & {listeners: number; running: number; clients: number; metrics: BrokerMetrics} {
    return {...this.listenerManager.totals(), clients: this.clients.size, metrics: {...this.metrics}}
  }

  /** See ListenerManager.create. */
  createListener(input: string | ListenerInput, options: {start?: boolean} = {}): Promise<ListenerStatus> {
    return this.listenerManager.create(input, options)
  }

  deleteListener(id: string): Promise<ListenerStatus> {
    return this.listenerManager.delete(id)
  }

  stopListener(id: string): Promise<ListenerStatus> {
    return this.listenerManager.stop(id)
  }

  startListener(id: string): Promise<ListenerStatus> {
    return this.listenerManager.start(id)
  }

  restartListener(id: string): Promise<ListenerStatus> {
    return this.listenerManager.restart(id)
  }

  updateListener(id: string, update: ListenerUpdate): Promise<ListenerStatus> {
    return this.listenerManager.update(id, update)
  }

  /**
   * Serves MQTT on any Duplex: the transports call this, and so can tests and embedders.
   * Returns undefined when the connection was refused at once (its listener is full).
   */
  handle(conn: Connection): Client | undefined {
    const stats = conn.stats
    const max = this.limits.maxConnections
    if (max > 0 && stats !== undefined && stats.connections >= max) {
      // Only the new socket is refused; the connected clients are not disturbed.
      this.metrics.connectionsRefused++
      countRejected(stats, 'max-connections')
      if (this.log.debugEnabled) this.log.debug('connection refused: listener full', {remote: conn.remote, listener: conn.listenerId, maxConnections: max})
      conn.stream.on('error', ignore)
      conn.stream.destroy()
      return undefined
    }
    const client = new Client(this, conn)
    this.connections.add(client)
    if (stats) {
      if (conn.socket !== undefined) trackSocket(stats, conn.socket)
      stats.accepted++
      if (++stats.connections > stats.peakConnections) stats.peakConnections = stats.connections
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
    if (previous && previous !== client) this.takeOver(previous, client)
    let session = await this.sessions.load(client.clientId)
    if (client.state !== ClientState.Connecting) return false
    const current = this.clients.get(client.clientId)
    // Another CONNECT with the same id won the race while we waited: it is taken over too.
    if (current && current !== client) this.takeOver(current, client)
    let present = session !== undefined
    if (session && cleanStart) {
      this.discardSession(session)
      session = undefined
      present = false
    }
    session ??= await this.sessions.open(client.clientId)
    if (client.state !== ClientState.Connecting) {
      // The client left while its session was being opened: a session made for it goes too.
      if (!present && session.client === undefined && session.subscriptionCount === 0) void this.sessions.delete(client.clientId)
      return false
    }
    session.expiryTimer?.cancel()
    session.expiryTimer = undefined
    if (session.pendingWill !== undefined) {
      // MQTT-3.1.3-9: a new connection to the session before the Will Delay has passed cancels the Will.
      session.willTimer?.cancel()
      session.willTimer = undefined
      session.pendingWill = undefined
    }
    session.expiryInterval = expiryInterval
    session.client = client
    client.session = session
    this.clients.set(client.clientId, client)
    return present
  }

  /** MQTT-3.1.4-3: the existing connection of a client id is closed (MQTT 5: DISCONNECT 0x8E); its Will follows the usual rules. */
  private takeOver(previous: Client, by: Client): void {
    this.clients.delete(previous.clientId)
    previous.close(ReasonCode.SessionTakenOver, `session taken over by ${by.remote}`)
    this.releaseWill(previous)
    this.detachSession(previous)
  }

  /** Unbinds a closing client from its session, keeping or ending the session. */
  detachSession(client: Client): void {
    const session = client.session
    if (!session || session.client !== client) return
    session.client = undefined
    const ending = session.expiryInterval === 0
    this.releaseShared(session, ending)
    if (ending) {
      this.discardSession(session)
    } else if (session.expiryInterval !== NEVER) {
      session.expiryTimer = new Deadline(session.expiryInterval * 1000, (s: Session) => this.expireSession(s), session)
    }
  }

  private expireSession(session: Session): void {
    session.expiryTimer = undefined
    if (session.client === undefined) this.discardSession(session)
  }

  /** Ends a session: its subscriptions and queued messages are gone; a delayed Will is published now. */
  discardSession(session: Session): void {
    this.releaseShared(session, true)
    if (session.subscriptionCount > 0) for (const [filter, opts] of session.subscriptions) this.removeSubscription(session, filter, opts)
    session.clearState()
    session.expiryTimer?.cancel()
    session.expiryTimer = undefined
    const will = session.pendingWill
    if (will !== undefined) {
      session.willTimer?.cancel()
      session.willTimer = undefined
      session.pendingWill = undefined
      this.publishWill(will)
    }
    void this.sessions.delete(session.clientId)
  }

  // ---- subscriptions ----

  /** Adds or replaces one subscription of a session (shared ones join their group). */
  addSubscription(session: Session, filter: string, opts: SubOpts, share?: {group: string; filter: string}): void {
    const old = session.subscriptions.get(filter)
    if (share !== undefined) {
      const key = sharedKey(share.group, share.filter)
      let group = this.sharedGroups.get(key)
      if (group === undefined) {
        group = new SharedGroup(share.group, share.filter)
        this.sharedGroups.set(key, group)
        this.router.add(share.filter, group, GROUP_OPTS)
      }
      opts.group = group
      group.add(session, opts)
    } else {
      if (old?.group !== undefined) this.removeSubscription(session, filter, old)
      this.router.add(filter, session, opts)
    }
    session.subscriptions.set(filter, opts)
  }

  /** Removes one subscription; returns whether it existed. */
  unsubscribe(session: Session, filter: string): boolean {
    const opts = session.subscriptions.get(filter)
    if (opts === undefined) return false
    session.subscriptions.delete(filter)
    this.removeSubscription(session, filter, opts)
    return true
  }

  private removeSubscription(session: Session, filter: string, opts: SubOpts): void {
    const group = opts.group
    if (group === undefined) {
      this.router.remove(filter, session)
      return
    }
    group.remove(session)
    if (group.size === 0) {
      this.router.remove(group.filter, group)
      this.sharedGroups.delete(group.key)
    }
  }

  // ---- Wills ----

  /**
   * The connection of `client` is over without a normal DISCONNECT: its Will is published
   * now, or, with an MQTT 5 Will Delay Interval and a session that outlives the connection,
   * when the delay or the session ends, whichever comes first (MQTT 5 §3.1.3.2.2).
   */
  releaseWill(client: Client): void {
    const will = client.will
    if (will === undefined) return
    client.will = undefined
    if (client.graceful) return
    const session = client.session
    const delay = client.willDelay
    if (delay > 0 && session !== undefined && session.expiryInterval > 0) {
      if (session.pendingWill !== undefined) this.publishWill(session.pendingWill)
      session.willTimer?.cancel()
      session.pendingWill = will
      session.willTimer = new Deadline(Math.min(delay, session.expiryInterval) * 1000, (s: Session) => this.willDue(s), session)
      return
    }
    this.publishWill(will)
  }

  private willDue(session: Session): void {
    const will = session.pendingWill
    session.willTimer = undefined
    session.pendingWill = undefined
    if (will !== undefined) this.publishWill(will)
  }

  private publishWill(will: Message): void {
    stampExpiry(will, Date.now())
    this.publish(will, null)
  }

  // ---- delivery ----

  /** After CONNACK on a resumed session: resend what was unacknowledged (DUP), then the queue. */
  resumeDelivery(client: Client): void {
    const session = client.session!
    if (session.inflightCount > 0) this.resendInflight(client, session)
    this.drainQueue(client)
  }

  private resendInflight(client: Client, session: Session): void {
    for (const [id, entry] of session.inflight) {
      if (entry.state === 'pubrel') {
        client.send(encodeAck(PacketType.PUBREL, entry.packetId, client.version))
        continue
      }
      const buf = this.encodeOutgoing(client, entry, true)
      if (buf.length > client.maxOutgoingPacketSize) {
        // MQTT-3.1.2-25: too large for this client now; handled as if delivered.
        session.inflight.delete(id)
        this.metrics.tooLargeDropped++
        continue
      }
      client.send(buf)
    }
  }

  /**
   * Routes one application message to every matching subscription (each shared group:
   * one member). Synchronous. Returns how many subscriptions matched.
   */
  publish(message: Message, from: Client | null, wire?: Buffer): number {
    if (from !== null) from.stats.messagesIn++
    if (message.retain && this.limits.retainAvailable) void this.retained.set(message)
    const outer = this.fanDepth++ === 0
    const targets = outer ? this.scratch : []
    const fan = outer ? this.scratchFan.reset(message, from, ++this.epoch, wire) : new FanOut(this, message, from, ++this.epoch, targets).reset(message, from, this.epoch, wire)
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
    if (fan.matched === 0) this.metrics.noSubscribers++
    return fan.matched
  }

  /** One message for a shared subscription group: to one member, under that member's options. */
  deliverShared(group: SharedGroup, fan: FanOut): void {
    const member = group.pick(this.config.sharedStrategy)
    if (member === undefined) return
    this.handOver(member, group, fan.message, fan)
  }

  private handOver(member: Session, group: SharedGroup, message: Message, fan?: FanOut): void {
    const o = group.options.get(member)!
    const qos = (message.qos < o.qos ? message.qos : o.qos) as QoS
    const ids = o.subscriptionId === undefined ? undefined : [o.subscriptionId]
    this.deliver(member, message, qos, o.retainAsPublished && message.retain, ids, fan, group)
  }

  /** Sends (or queues) one message to one session at the given QoS. */
  deliver(session: Session, message: Message, qos: QoS, retain: boolean, subscriptionIds: number[] | undefined, fan?: FanOut, group?: SharedGroup): void {
    const client = session.client
    const isOnline = client !== undefined && client.state === ClientState.Connected
    if (qos === 0) {
      if (!isOnline) return // QoS 0 is not queued for offline sessions
      if (client.congested) {
        this.metrics.slowConsumerDropped++
        return
      }
      const buf = this.encodeQos0(client, message, retain, subscriptionIds, fan)
      if (buf.length > client.maxOutgoingPacketSize) {
        this.metrics.tooLargeDropped++
        return
      }
      client.stats.messagesOut++
      client.send(buf)
      return
    }
    if (isOnline && !client.congested && session.queuedCount === 0 && session.inflightCount < client.inflightMax) {
      this.sendOutgoing(client, {message, qos, retain, subscriptionIds, group, packetId: 0, state: 'publish'}, fan)
    } else {
      this.enqueue(session, {message, qos, retain, subscriptionIds, group})
    }
  }

  private enqueue(session: Session, item: Queued): void {
    const dropped = session.queue.push(item, this.limits)
    if (dropped > 0) {
      session.dropped += dropped
      this.metrics.queueDropped += dropped
    }
  }

  /** Moves queued messages into the inflight window while there is room and the socket keeps up. */
  drainQueue(client: Client): void {
    const session = client.session!
    if (session.queuedCount === 0) return
    const now = Date.now()
    while (session.queue.length > 0 && session.inflight.size < client.inflightMax && client.state === ClientState.Connected && !client.congested) {
      const q = session.queue.shift()!
      if (isExpired(q.message, now)) {
        this.metrics.expired++
        continue
      }
      this.sendOutgoing(client, {message: q.message, qos: q.qos, retain: q.retain, subscriptionIds: q.subscriptionIds, group: q.group, packetId: 0, state: 'publish'})
    }
  }

  private sendOutgoing(client: Client, entry: Outgoing, fan?: FanOut): void {
    const session = client.session!
    const id = session.nextPacketId()
    entry.packetId = id
    let buf: Buffer
    if (fan !== undefined && entry.subscriptionIds === undefined) {
      const idx = (client.version === 5 ? 4 : 0) + (entry.qos - 1) * 2 + (entry.retain ? 1 : 0)
      const template = fan.qosN[idx]
      if (template === undefined) {
        buf = this.encodeOutgoing(client, entry, false)
        fan.qosN[idx] = buf
      } else {
        buf = template.length > client.maxOutgoingPacketSize ? template : withPacketId(template, id)
      }
    } else {
      buf = this.encodeOutgoing(client, entry, false)
    }
    if (buf.length > client.maxOutgoingPacketSize) {
      // MQTT-3.1.2-25: never more than the client's Maximum Packet Size; handled as if delivered.
      this.metrics.tooLargeDropped++
      return
    }
    session.inflight.set(id, entry)
    client.stats.messagesOut++
    client.send(buf)
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
      // Forward the bytes as received where they are what this client gets: no encoding, no copy.
      const wire = fan.wire
      if (wire !== undefined && !retain && (client.version === 5) === fan.wireV5) return (fan.qos0[idx] = wire)
      buf = encodePublish(client.version, message.topic, message.payload as Buffer, 0, retain, false, 0, outProperties(client, message, undefined))
      fan.qos0[idx] = buf
    }
    return buf
  }

  /**
   * A member of a shared subscription is leaving: its messages from shared subscriptions
   * that were not acknowledged (or not yet sent) go to another member (MQTT 5 §4.8.2) — to an
   * online one; when the session ends, to any other member. Without one they stay.
   */
  private releaseShared(session: Session, ending: boolean): void {
    if (session.inflightCount === 0 && session.queuedCount === 0) return
    for (const [id, e] of session.inflight) {
      if (e.group === undefined || e.state !== 'publish') continue
      const other = this.otherMember(e.group, session, ending)
      if (other === undefined) continue
      session.inflight.delete(id)
      this.handOver(other, e.group, e.message)
    }
    if (session.queue.length === 0) return
    for (const q of session.queue.extract(hasGroup)) {
      const other = this.otherMember(q.group!, session, ending)
      if (other !== undefined) this.handOver(other, q.group!, q.message)
      else if (!ending) this.enqueue(session, q)
    }
  }

  private otherMember(group: SharedGroup, leaving: Session, ending: boolean): Session | undefined {
    const other = group.pick(this.config.sharedStrategy, leaving)
    return other !== undefined && (ending || online(other)) ? other : undefined
  }

  // ---- closing ----

  onClientClosed(client: Client, wasConnected: boolean): void {
    this.connections.delete(client)
    if (client.conn.stats) client.conn.stats.connections--
    if (wasConnected && client.session) {
      if (this.clients.get(client.clientId) === client) this.clients.delete(client.clientId)
      this.releaseWill(client)
      this.detachSession(client)
    }
    if (this.log.debugEnabled) this.log.debug('closed', {clientId: client.clientId, remote: client.remote, reason: client.closeReason})
    this.emit('clientDisconnect', client)
  }

  /** Stops the listeners, says goodbye to every client (MQTT 5: DISCONNECT 0x8B) and waits for them. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    // Wait for listener operations under way, so none starts a socket after this.
    await this.listenerManager.quiesce()
    const waits = [...this.connections].map((c) => closeClient(c, 'the broker is shutting down'))
    await Promise.all([this.listenerManager.closeAll(), ...waits])
  }
}

function ignore(): void {}

/** Says goodbye to a client (MQTT 5: DISCONNECT 0x8B) and resolves when its stream has closed. */
function closeClient(c: Client, reason: string): Promise<void> {
  return new Promise<void>((resolve) => {
    if (c.state === ClientState.Closed) return resolve()
    c.stream.once('close', () => resolve())
    c.graceful = true // a server-side stop is not the client's failure: no Will
    c.close(ReasonCode.ServerShuttingDown, reason)
  })
}

/** Wraps the Auth hooks so that a refused authentication counts on its listener (CONNECT only; publish/subscribe checks are the originals). */
function countAuthRejects(auth: Auth, broker: Broker): Auth {
  return {
    authenticate: (c) =>
      auth.authenticate(c).then((r) => {
        if (!r.ok && c.listenerId !== undefined) {
          const m = broker.listenerTable.get(c.listenerId)
          if (m) countRejected(m.stats, 'auth')
        }
        return r
      }),
    canPublish: auth.canPublish.bind(auth),
    canSubscribe: auth.canSubscribe.bind(auth),
  }
}

function hasGroup(q: Queued): boolean {
  return q.group !== undefined
}

type Props = NonNullable<Message['properties']>

/**
 * PUBLISH properties for one receiver: MQTT 5 only, with its subscription ids, and the
 * Message Expiry Interval lowered to the time left (MQTT-3.3.2-6).
 */
function outProperties(client: Client, message: Message, subscriptionIds: number[] | undefined): Props | undefined {
  if (client.version !== 5) return undefined
  let p = message.properties
  if (message.expiresAt !== undefined && p?.messageExpiryInterval !== undefined) {
    const left = Math.max(0, Math.ceil((message.expiresAt - Date.now()) / 1000))
    if (left < p.messageExpiryInterval) p = {...p, messageExpiryInterval: left}
  }
  if (subscriptionIds === undefined) return p
  return {...p, subscriptionIdentifier: subscriptionIds.length === 1 ? subscriptionIds[0] : (subscriptionIds as unknown as number)}
}
