import type {QoS} from '../protocol/codec.js'
import type {Client} from './client.js'
import type {Message, Outgoing} from './message.js'
import {MessageQueue} from './queue.js'
import type {SharedGroup} from './shared.js'
import type {Deadline} from './timers.js'

export type {Queued} from './message.js'

/** Options of one subscription, as the router stores them. */
export interface SubOpts {
  qos: QoS
  noLocal: boolean
  retainAsPublished: boolean
  retainHandling: 0 | 1 | 2
  subscriptionId?: number
  /** For a shared subscription ($share/GROUP/FILTER): its group. */
  group?: SharedGroup
}

/**
 * State that outlives a network connection when the client asks for it
 * (clean session 0 in 3.1.1, session expiry > 0 in 5.0).
 */
export class Session {
  /** Tells a Session from a SharedGroup in the router's visitor. */
  readonly isGroup = false
  readonly clientId: string
  // The collections below are made on first use: an idle connection's session has none,
  // which is ~0.7 KB of its memory (4 empty hash tables and a queue).
  private subs: Map<string, SubOpts> | undefined
  private sent: Map<number, Outgoing> | undefined
  private waiting: MessageQueue | undefined
  private rel: Set<number> | undefined

  /** Subscriptions by filter as the client wrote it ($share/… included). */
  get subscriptions(): Map<string, SubOpts> {
    return (this.subs ??= new Map())
  }

  /** Outgoing QoS 1/2 messages sent and not yet fully acknowledged, by packet id. */
  get inflight(): Map<number, Outgoing> {
    return (this.sent ??= new Map())
  }

  /** Messages waiting for the client to come back, for room in the inflight window, or for a congested socket to drain. */
  get queue(): MessageQueue {
    return (this.waiting ??= new MessageQueue())
  }

  /** Inbound QoS 2 packet ids received (PUBREC sent) and not yet released. */
  get awaitingRel(): Set<number> {
    return (this.rel ??= new Set())
  }

  /** Sizes that do not create the collections. */
  get subscriptionCount(): number {
    return this.subs?.size ?? 0
  }

  get inflightCount(): number {
    return this.sent?.size ?? 0
  }

  get queuedCount(): number {
    return this.waiting?.length ?? 0
  }

  /** Forgets subscriptions, queue and inflight messages (the caller has unrouted the subscriptions). */
  clearState(): void {
    this.subs = undefined
    this.sent = undefined
    this.waiting = undefined
  }
  /** Seconds; 0 ends the session with the connection; 0xFFFFFFFF never expires. */
  expiryInterval = 0
  /** Messages dropped because the queue was full. */
  dropped = 0
  expiryTimer: Deadline<Session> | undefined
  /** MQTT 5 Will Delay: the Will of the last connection, waiting to be published. */
  pendingWill: Message | undefined
  willTimer: Deadline<Session> | undefined
  /** The connected client using this session, if any. */
  client: Client | undefined
  // Scratch fields for one fan-out (see Broker.publish): merge overlapping subscriptions without allocating.
  matchEpoch = 0
  matchQos: QoS = 0
  matchRetainAsPublished = false
  matchSubscriptionIds: number[] | undefined
  private lastPacketId = 0

  constructor(clientId: string) {
    this.clientId = clientId
  }

  /** Next free packet id (1..65535), or 0 when all are in use. */
  nextPacketId(): number {
    for (let i = 0; i < 65535; i++) {
      this.lastPacketId = this.lastPacketId === 65535 ? 1 : this.lastPacketId + 1
      if (this.sent === undefined || !this.sent.has(this.lastPacketId)) return this.lastPacketId
    }
    return 0
  }
}
