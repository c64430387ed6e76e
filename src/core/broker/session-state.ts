/**
 * What a session is, as a value a store can write and read back: subscriptions, expiry,
 * the offline queue, outbound messages in flight with their packet ids and stage, inbound
 * QoS 2 ids awaiting PUBREL, and a delayed Will. Nothing here is runtime-only (timers, the
 * connection, fan-out scratch and shared-group objects live in session.ts); a shared
 * subscription's messages name their group by key.
 *
 * The collections are made on first use: an idle connection's session has none (~0.7 KB
 * of its memory). Only a SessionStore changes a SessionState (session-store.ts), so a
 * durable store sees every change; the broker reads it directly.
 */
import type {QoS} from '../protocol/codec.js'
import type {Message} from './message.js'
import type {MessageQueue} from './queue.js'

/** Options of one subscription, as the client asked for them. */
export interface SubscriptionOptions {
  qos: QoS
  noLocal: boolean
  retainAsPublished: boolean
  retainHandling: 0 | 1 | 2
  subscriptionId?: number
}

/** A message on its way to one client: QoS and retain as that client gets them. */
export interface Queued {
  message: Message
  qos: QoS
  retain: boolean
  /** Subscription identifiers of the matching subscriptions (MQTT 5). */
  subscriptionIds?: number[]
  /** "$share/GROUP/FILTER" when it came through a shared subscription: another member may take it over. */
  group?: string
  /** A durable store's position for it (its row), set by the store. */
  seq?: number
}

/** 'publish': sent, waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP (MQTT 4.3.3). */
export type InflightStage = 'publish' | 'pubrel'

/** An outbound QoS 1/2 message sent and not yet fully acknowledged. */
export interface Inflight extends Queued {
  packetId: number
  stage: InflightStage
}

/** An MQTT 5 Will waiting for its Will Delay Interval (or the end of its session). */
export interface DelayedWill {
  message: Message
  /** When it is due (ms since the epoch). */
  dueAt: number
}

export interface SessionState {
  readonly clientId: string
  /** Seconds; 0 ends the session with the connection; 0xFFFFFFFF never expires. */
  expiryInterval: number
  /** When the client left (ms since the epoch); undefined while it is connected. Expiry counts from here. */
  disconnectedAt: number | undefined
  /** Subscriptions by filter as the client wrote it ($share/… included). */
  subscriptions: Map<string, SubscriptionOptions> | undefined
  /** Messages waiting for the client to come back, for room in the inflight window, or for a congested socket. */
  queue: MessageQueue | undefined
  /** Outbound QoS 1/2 messages by packet id. */
  inflight: Map<number, Inflight> | undefined
  /** Inbound QoS 2 packet ids received (PUBREC sent) and not yet released. */
  awaitingRel: Set<number> | undefined
  will: DelayedWill | undefined
  /** Messages dropped because the queue was full. */
  dropped: number
}

/** Session Expiry Interval that never ends (MQTT 5 §3.1.2.11.2). */
export const NEVER_EXPIRES = 0xffffffff

export function newSessionState(clientId: string, expiryInterval: number): SessionState {
  return {
    clientId,
    expiryInterval,
    disconnectedAt: undefined,
    subscriptions: undefined,
    queue: undefined,
    inflight: undefined,
    awaitingRel: undefined,
    will: undefined,
    dropped: 0,
  }
}

/** When an offline session ends (ms since the epoch); Infinity when it never does, or while connected. */
export function expiresAt(state: SessionState): number {
  if (state.disconnectedAt === undefined || state.expiryInterval === NEVER_EXPIRES) return Number.POSITIVE_INFINITY
  return state.disconnectedAt + state.expiryInterval * 1000
}
