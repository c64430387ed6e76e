/**
 * The broker: the public face of the engine (engine.ts) and the composition root that
 * wires it. It knows nothing of transports beyond `Connection` (any Duplex): `handle()`
 * accepts one from anywhere, and its listeners (configured and added at runtime) are
 * managed by listener-manager.ts. Stores, authentication and the fan-out Bus plug in
 * through BrokerOptions; the defaults keep everything in memory on one node.
 *
 * The path of one PUBLISH: docs/architecture.md.
 */
import {EventEmitter} from 'node:events'
import type {BrokerConfig, ListenerInput} from '../config.js'
import type {Logger} from '../logger.js'
import {noopLogger} from '../logger.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import {countAuthFailure, countRejected, trackSocket} from '../transport/listener-stats.js'
import {releasePending} from '../transport/pending.js'
import type {ListenerCounters, ListenerStats} from '../transport/listener-stats.js'
import type {Connection, ListenHooks, Listener, ListenerInfo} from '../transport/types.js'
import {ConfiguredAuth} from '../auth/configured.js'
import {withAuthorization} from '../authz/authorized.js'
import {ConfigError} from '../errors.js'
import {Guard, describeBan} from '../guard/guard.js'
import {disconnectBanned} from '../guard/disconnect.js'
import {listenGuardHooks} from '../guard/listen-hooks.js'
import type {Auth} from './auth.js'
import {guardAuth} from './auth-guard.js'
import {LogThrottle} from '../log-throttle.js'
import {listSubscriptions} from './inspection.js'
import type {SubscriptionInfo} from './inspection.js'
import type {Bus, BusDescription} from './bus.js'
import {LocalBus} from './bus.js'
import {ClientConnection} from './connection.js'
import {Engine} from './engine.js'
import {ListenerManager} from './listener-manager.js'
import type {ListenerStatus, ListenerUpdate, ManagedListener} from './listener-manager.js'
import type {BrokerMetrics} from './metrics.js'
import {newBrokerMetrics} from './metrics.js'
import type {RetainedStore} from './retained-store.js'
import {MemoryRetainedStore} from './retained-store.js'
import type {SessionState} from './session-state.js'
import type {SessionStore} from './session-store.js'
import {MemorySessionStore} from './session-store.js'
import type {Message} from './message.js'
import {SysRetained, SysTree} from './sys-tree.js'
import type {BrokerEvents, Emit} from './types.js'
import {ConnState} from './types.js'

export {ListenerManager, ListenerOpError} from './listener-manager.js'
export type {ListenerState, ListenerStatus, ListenerUpdate, ManagedListener} from './listener-manager.js'
export type {BrokerEvents} from './types.js'
export type {SubscriptionInfo} from './inspection.js'

export interface BrokerOptions {
  logger?: Logger
  /** Default: the chain built from `config.auth` (src/core/auth): with no authenticator, anyone on a loopback listener. */
  auth?: Auth
  sessions?: SessionStore
  retained?: RetainedStore
  /** How messages reach the namespace; the default is this process alone. */
  bus?: Bus
  /** The version $SYS/broker/version names. */
  version?: string
}

/** Seconds between $SYS updates when the configuration does not say (Mosquitto's sys_interval). */
export const DEFAULT_SYS_INTERVAL = 10

export class Broker extends EventEmitter<BrokerEvents> {
  readonly config: BrokerConfig
  readonly metrics: BrokerMetrics = newBrokerMetrics()
  readonly listenerManager: ListenerManager
  /** Authentication and authorization, as given or built from `config.auth`. */
  readonly auth: Auth
  /** Bans, flapping detection and rate-limit resumption (src/core/guard); the admin API's /banned routes use it. */
  readonly guard: Guard
  private readonly engine: Engine
  private readonly log: Logger
  /** Every open connection, connected or not. */
  private readonly open = new Set<ClientConnection>()
  private started: Promise<void> | undefined
  private closing = false
  private readonly retained: SysRetained
  private readonly sys: SysTree

  constructor(config: BrokerConfig, options: BrokerOptions = {}) {
    super()
    this.config = config
    this.log = options.logger ?? noopLogger
    const bus = options.bus ?? new LocalBus()
    const auth = options.auth ?? withAuthorization(new ConfiguredAuth(config.auth, this.log), config.authorization, this.log)
    this.auth = auth
    const authConfigured = options.auth !== undefined || (config.auth?.authenticators.length ?? 0) > 0
    this.guard = new Guard(config.guard, {authConfigured, log: this.log, onBan: (ban) => disconnectBanned(this.open, ban, describeBan(ban))})
    this.engine = new Engine({
      guard: this.guard,
      config,
      log: this.log,
      metrics: this.metrics,
      auth: guardAuth(auth, {
        allowReservedTopics: config.limits.allowReservedTopics,
        log: this.log,
        refused: (listenerId, reasonCode) => {
          const m = this.listenerTable.get(listenerId)
          if (m) countAuthFailure(m.stats, reasonCode)
        },
      }),
      store: wrapSessions(bus, options.sessions ?? new MemorySessionStore()),
      retained: (this.retained = new SysRetained(wrapRetained(bus, options.retained ?? new MemoryRetainedStore()))),
      bus,
      emit: this.emit.bind(this) as Emit,
      onClosed: (conn) => this.connectionClosed(conn),
    })
    // The local bus is ready at once, so handle() works without listen().
    if (options.bus === undefined) void bus.start(this.engine.delivery)
    // A storm of refused handshakes (bad tokens, wrong paths) logs a few lines and a summary per 10 s; the counters stay exact.
    const rejections = new LogThrottle(this.log, {what: 'handshake rejections'})
    const hooks: ListenHooks = {
      onConnection: (conn: Connection) => {
        this.handle(conn)
      },
      onRejected: (listenerId: string, reason: string, detail: string) => {
        rejections.note('info', reason, 'handshake rejected', {listener: listenerId, reason, detail})
        this.emit('rejected', listenerId, reason, detail)
      },
      maxPacketSize: config.limits.maxPacketSize,
      connectTimeoutMs: config.limits.connectTimeoutMs,
      maxPendingPerAddress: config.limits.maxPendingPerAddress,
      // WebSocket credentials in the upgrade request (a JWT): checked before the handshake completes.
      ...(auth.checkUpgrade === undefined ? {} : {checkUpgrade: (request, listenerId) => auth.checkUpgrade!(request, listenerId)}),
      ...listenGuardHooks(config),
    }
    // Every listener start (configured, added or restarted at runtime) asks the Auth first: fail closed.
    const guard = (l: {id: string; host: string}): void => {
      const problem = auth.listenerProblem?.(l)
      if (problem !== undefined) throw new ConfigError(problem)
    }
    this.listenerManager = new ListenerManager(config, hooks, this.log, (stats, reason) => this.disconnectListener(stats, reason), guard)
    this.sys = new SysTree(this, (topic, payload) => this.publishSys(topic, payload), config.sysInterval ?? DEFAULT_SYS_INTERVAL, options.version ?? 'unknown')
    // Connected (CONNACK sent): its socket no longer counts against limits.maxPendingPerAddress.
    this.on('client', (client) => releasePending(client.conn.socket))
    // Reported through events; an EventEmitter 'error'-style crash must never come from a client.
    this.on('clientError', (client, error) => {
      if (this.log.debugEnabled) this.log.debug('client error', {clientId: client.clientId, remote: client.remote, error: error.message})
    })
  }

  /**
   * Reads the stores (sessions back in the router, retained messages) and starts the Bus.
   * listen() does it first; call it yourself before handle() with a durable store or a Bus.
   */
  start(): Promise<void> {
    this.started ??= (async () => {
      await this.auth.start?.()
      this.engine.delivery.readGate = this.auth.readGate?.()
      await this.engine.retained.restore()
      await this.engine.sessions.restore()
      if (this.engine.bus !== undefined) await this.engine.bus.start(this.engine.delivery)
      if (!this.closing) this.sys.start()
    })()
    return this.started
  }

  /** Starts the stores, the Bus and every configured listener. On failure, listeners already started are closed again. */
  async listen(): Promise<ListenerInfo[]> {
    await this.start()
    return this.listenerManager.listenAll(this.config.listeners)
  }

  // ---- authentication ----

  /** Re-reads credentials (password files; the HTTP authenticator's cache) without touching connected clients. */
  async reloadAuth(): Promise<unknown> {
    return (await this.auth.reload?.()) ?? []
  }

  /** The cluster's nodes and this node's link to it; undefined on a single node. */
  cluster(): BusDescription | undefined {
    return this.engine.bus.describe?.()
  }

  /** The authentication in use, for the admin API (no secrets). */
  describeAuth(): unknown {
    return this.auth.describe?.() ?? {custom: true}
  }

  // ---- inspection ----

  /** Connected clients by client id. */
  get clients(): ReadonlyMap<string, ClientConnection> {
    return this.engine.sessions.clients
  }

  /** Every open connection, connected or not. */
  get connections(): ReadonlySet<ClientConnection> {
    return this.open
  }

  /** Sessions held (connected and offline). */
  get sessionCount(): number {
    return this.engine.sessions.sessions.size
  }

  /** The stored state of one session, for inspection (do not change it). */
  sessionState(clientId: string): Readonly<SessionState> | undefined {
    return this.engine.sessions.sessions.get(clientId)?.state
  }

  /** Keys ("$share/GROUP/FILTER") of the shared subscription groups with members. */
  sharedGroups(): string[] {
    return [...this.engine.subscriptions.groups.keys()]
  }

  /** How many subscriptions (a shared group counts once) match a topic. */
  subscribersOf(topic: string): number {
    const count = {n: 0}
    this.engine.subscriptions.router.match(topic, countMatch, count)
    return count.n
  }

  /** Client ids of every session held, connected and offline. */
  sessionIds(): IterableIterator<string> {
    return this.engine.sessions.sessions.keys()
  }

  /** Every subscription of every session (or of one client). */
  subscriptions(clientId?: string): SubscriptionInfo[] {
    return listSubscriptions(this.engine.sessions.sessions, clientId)
  }

  /** Subscriptions held (every session's), and how many shared groups have members. */
  subscriptionCount(): {total: number; shared: number} {
    let total = 0
    for (const s of this.engine.sessions.sessions.values()) total += s.subscriptionCount
    return {total, shared: this.engine.subscriptions.groups.size}
  }

  /** Retained messages clients stored ($SYS/… not counted). */
  retainedCount(): number {
    return this.retained.storedSize
  }

  /** The retained messages matching a filter; by default every one, $SYS/… included. Expired ones are left out. */
  async retainedMessages(filter?: string): Promise<Message[]> {
    const out: Message[] = []
    for (const f of filter === undefined ? ['#', '$SYS/#'] : [filter]) for await (const m of this.retained.forFilter(f)) out.push(m)
    return out
  }

  /** Clears the retained message of a topic (as a retained PUBLISH with an empty payload would); false when there was none. */
  deleteRetained(topic: string): boolean {
    if (!this.retained.has(topic)) return false
    this.retained.set({cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false})
    this.engine.flush.touch()
    return true
  }

  /**
   * Disconnects a connected client at an administrator's request: an MQTT 5 client first gets
   * DISCONNECT 0x98 (Administrative action), a 3.1/3.1.1 client's socket is closed. Its Will is
   * published; its session stays as long as its expiry says. Resolves false when no client with
   * that id is connected, else true once its connection has closed.
   */
  async kick(clientId: string, reason = 'disconnected by an administrator'): Promise<boolean> {
    const c = this.clients.get(clientId)
    if (c === undefined || c.state >= ConnState.Closing) return false
    await new Promise<void>((resolve) => {
      c.stream.once('close', () => resolve())
      c.close(ReasonCode.AdministrativeAction, reason)
    })
    return true
  }

  /** Publishes a retained $SYS message to this node's subscribers (not counted as "no subscribers"). */
  private publishSys(topic: string, payload: string): void {
    const message: Message = {cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: true, dup: false}
    this.retained.set(message)
    const m = this.metrics
    const before = m.noSubscribers
    this.engine.delivery.deliver(message, null, undefined)
    m.noSubscribers = before
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

  listenerStatuses(): ListenerStatus[] {
    return this.listenerManager.statuses()
  }

  /** One listener's state and counters; throws ListenerOpError (404) for an unknown id. */
  listenerStatus(id: string): ListenerStatus {
    return this.listenerManager.status(id)
  }

  /** See ListenerManager.activity: cheap enough for a timer. */
  activity(): {accepted: number; packetsIn: number} {
    return this.listenerManager.activity()
  }

  /** Broker-wide totals: every listener's counters summed (from `statuses` when given: see ListenerManager.totals), plus the broker's own metrics. */
  totals(statuses?: readonly ListenerStatus[]): ListenerCounters & {listeners: number; running: number; clients: number; sessions: number; metrics: BrokerMetrics; store?: Record<string, number | string>} {
    const store = this.engine.store.stats?.()
    return {...this.listenerManager.totals(statuses), clients: this.clients.size, sessions: this.sessionCount, metrics: {...this.metrics}, ...(store === undefined ? {} : {store})}
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

  // ---- connections ----

  /**
   * Serves MQTT on any Duplex: the transports call this, and so can tests and embedders.
   * Returns undefined when the connection was refused at once (its listener is full).
   */
  handle(conn: Connection): ClientConnection | undefined {
    const stats = conn.stats
    const max = this.config.limits.maxConnections
    if (max > 0 && stats !== undefined && stats.connections >= max) {
      // Only the new socket is refused; the connected clients are not disturbed.
      this.metrics.connectionsRefused++
      countRejected(stats, 'max-connections')
      if (this.log.debugEnabled) this.log.debug('connection refused: listener full', {remote: conn.remote, listener: conn.listenerId, maxConnections: max})
      conn.stream.on('error', ignore)
      conn.stream.destroy()
      return undefined
    }
    const client = new ClientConnection(this.engine, conn)
    this.open.add(client)
    if (stats) {
      if (conn.socket !== undefined) trackSocket(stats, conn.socket)
      stats.accepted++
      if (++stats.connections > stats.peakConnections) stats.peakConnections = stats.connections
    }
    if (this.closing) client.close(ReasonCode.ServerShuttingDown, 'the broker is shutting down')
    if (this.log.debugEnabled) this.log.debug('connection', {remote: conn.remote, listener: conn.listenerId})
    return client
  }

  private connectionClosed(client: ClientConnection): void {
    this.open.delete(client)
    if (this.log.debugEnabled) this.log.debug('closed', {clientId: client.clientId, remote: client.remote, reason: client.closeReason})
    this.emit('clientDisconnect', client)
  }

  private disconnectListener(stats: ListenerStats, reason: string): Array<Promise<void>> {
    const waits: Array<Promise<void>> = []
    for (const c of this.open) if (c.stats === stats) waits.push(closeClient(c, reason))
    return waits
  }

  /** Stops the listeners, says goodbye to every client (MQTT 5: DISCONNECT 0x8B), waits for them, then closes the Bus and the stores. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    this.sys.stop()
    this.guard.close()
    // Wait for listener operations under way, so none starts a socket after this.
    await this.listenerManager.quiesce()
    const waits = [...this.open].map((c) => closeClient(c, 'the broker is shutting down'))
    await Promise.all([this.listenerManager.closeAll(), ...waits])
    const {bus, store, retained} = this.engine
    await bus.close()
    await Promise.all([store.close(), retained.close()])
  }
}

function ignore(): void {}

/** A cluster Bus shares retained messages between nodes (Bus.wrapRetained). */
function wrapSessions(bus: Bus, store: SessionStore): SessionStore {
  return bus.wrapSessions === undefined ? store : bus.wrapSessions(store)
}

function wrapRetained(bus: Bus, store: RetainedStore): RetainedStore {
  return bus.wrapRetained === undefined ? store : bus.wrapRetained(store)
}

function countMatch(count: {n: number}): void {
  count.n++
}

/** Says goodbye to a client (MQTT 5: DISCONNECT 0x8B) and resolves when its stream has closed. */
function closeClient(c: ClientConnection, reason: string): Promise<void> {
  return new Promise<void>((resolve) => {
    if (c.state === ConnState.Closed) return resolve()
    c.stream.once('close', () => resolve())
    c.graceful = true // a server-side stop is not the client's failure: no Will
    c.close(ReasonCode.ServerShuttingDown, reason)
  })
}

