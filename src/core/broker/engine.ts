/**
 * The engine: the broker's parts wired together (subscriptions, delivery, session
 * lifecycle, the per-turn flush and commit), as the BrokerContext the handlers and
 * connections work through. Internal: the public face is the Broker (broker.ts).
 */
import type {BrokerConfig, Limits} from '../config.js'
import type {Logger} from '../logger.js'
import type {Packet} from '../protocol/codec.js'
import type {Guard} from '../guard/guard.js'
import type {Auth} from './auth.js'
import type {Bus} from './bus.js'
import type {ClientConnection} from './connection.js'
import {Delivery} from './delivery.js'
import {dispatch} from './handlers/index.js'
import type {BrokerMetrics} from './metrics.js'
import type {RetainedStore} from './retained-store.js'
import type {SessionStore} from './session-store.js'
import {SessionLifecycle} from './sessions.js'
import {Subscriptions} from './subscriptions.js'
import {TurnFlush} from './turn-flush.js'
import type {BrokerContext, Emit} from './types.js'

export interface EngineParts {
  config: BrokerConfig
  log: Logger
  metrics: BrokerMetrics
  auth: Auth
  store: SessionStore
  retained: RetainedStore
  bus: Bus
  emit: Emit
  guard: Guard
  /** A connection's stream closed (the Broker's bookkeeping of its connections). */
  onClosed: (conn: ClientConnection) => void
}

export class Engine implements BrokerContext {
  readonly limits: Readonly<Limits>
  readonly log: Logger
  readonly metrics: BrokerMetrics
  readonly auth: Auth
  readonly store: SessionStore
  readonly retained: RetainedStore
  readonly bus: Bus
  readonly subscriptions: Subscriptions
  readonly delivery: Delivery
  readonly sessions: SessionLifecycle
  readonly flush: TurnFlush
  readonly emit: Emit
  readonly guard: Guard
  private readonly onClosed: (conn: ClientConnection) => void

  constructor(parts: EngineParts) {
    const {config, store, retained, bus, metrics} = parts
    this.limits = config.limits
    this.log = parts.log
    this.metrics = metrics
    this.auth = parts.auth
    this.store = store
    this.retained = retained
    this.bus = bus
    this.emit = parts.emit
    this.guard = parts.guard
    this.onClosed = parts.onClosed
    this.subscriptions = new Subscriptions(store, bus)
    this.delivery = new Delivery({limits: config.limits, sharedStrategy: config.sharedStrategy, metrics, store, retained, subscriptions: this.subscriptions, bus})
    this.sessions = new SessionLifecycle({sharedStrategy: config.sharedStrategy, store, bus, subscriptions: this.subscriptions, delivery: this.delivery})
    this.flush = new TurnFlush(store, retained, (error) => this.storeFailed(error), bus)
  }

  dispatch(conn: ClientConnection, packet: Packet): void {
    dispatch(conn, packet)
  }

  connectionClosed(conn: ClientConnection, wasConnected: boolean): void {
    if (conn.conn.stats) conn.conn.stats.connections--
    if (wasConnected && conn.session) this.sessions.closed(conn)
    this.onClosed(conn)
  }

  /** A commit failed: counted, logged once per burst (at most once a second), and raised as 'storeError'. */
  private storeFailed(error: Error): void {
    const now = Date.now()
    this.metrics.storeErrors++
    if (now - this.lastStoreErrorLog >= 1000) {
      this.lastStoreErrorLog = now
      this.log.error('store write failed: acknowledgements refused', {error: error.message, failures: this.metrics.storeErrors})
    }
    this.emit('storeError', error)
  }

  private lastStoreErrorLog = 0
}
