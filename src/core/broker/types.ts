/**
 * The broker's shared vocabulary: connection states, the events it emits, and the context
 * the packet handlers work through. Handlers see this narrow interface, never the Broker
 * class, so `broker.ts` (the composition root) can import them without a cycle.
 */
import type {Limits} from '../config.js'
import type {Logger} from '../logger.js'
import type {Packet} from '../protocol/codec.js'
import type {Guard} from '../guard/guard.js'
import type {Auth} from './auth.js'
import type {ClientConnection} from './connection.js'
import type {Delivery} from './delivery.js'
import type {BrokerMetrics} from './metrics.js'
import type {RetainedStore} from './retained-store.js'
import type {SessionLifecycle} from './sessions.js'
import type {SessionStore} from './session-store.js'
import type {Subscriptions} from './subscriptions.js'
import type {TurnFlush} from './turn-flush.js'

export const ConnState = {
  /** Socket open, waiting for CONNECT. */
  New: 0,
  /** CONNECT received, authentication and session restore under way. */
  Connecting: 1,
  Connected: 2,
  /** Closing: nothing more is read or written. */
  Closing: 3,
  Closed: 4,
} as const
export type ConnState = (typeof ConnState)[keyof typeof ConnState]

export interface BrokerEvents {
  /** A client completed CONNECT. */
  client: [client: ClientConnection]
  /** A client's connection closed (after Will and session bookkeeping). */
  clientDisconnect: [client: ClientConnection]
  /** A client broke the protocol or was refused (a ProtocolError with its reason code); its connection is closed. */
  clientError: [client: ClientConnection, error: Error]
  /** A handshake failed before MQTT started (wrong WS path or subprotocol, TLS). */
  rejected: [listenerId: string, reason: string, detail: string]
  /** A session or retained store failed to write; the acknowledgements that waited for it were refused. */
  storeError: [error: Error]
}

/** Raises a broker event (the Broker is an EventEmitter; the engine parts only emit). */
export type Emit = <K extends keyof BrokerEvents>(event: K, ...args: BrokerEvents[K]) => void

/** What the packet handlers and connections reach: the engine's parts, not the Broker. */
export interface BrokerContext {
  readonly limits: Readonly<Limits>
  readonly log: Logger
  readonly metrics: BrokerMetrics
  readonly auth: Auth
  readonly store: SessionStore
  readonly retained: RetainedStore
  readonly subscriptions: Subscriptions
  readonly delivery: Delivery
  readonly sessions: SessionLifecycle
  readonly flush: TurnFlush
  readonly emit: Emit
  /** Bans, flapping detection and the resumer of rate-limited clients (src/core/guard). */
  readonly guard: Guard
  /** The handler table: runs one decoded packet of a connection. */
  dispatch(conn: ClientConnection, packet: Packet): void
  /** The connection's stream closed: Will, session bookkeeping, events. */
  connectionClosed(conn: ClientConnection, wasConnected: boolean): void
}
