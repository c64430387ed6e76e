import type {QoS} from '../protocol/codec.js'
import type {Client} from './client.js'
import type {Message, Outgoing} from './message.js'

/** Options of one subscription, as the router stores them. */
export interface SubOpts {
  qos: QoS
  noLocal: boolean
  retainAsPublished: boolean
  retainHandling: 0 | 1 | 2
  subscriptionId?: number
}

/** A queued message for an offline or congested client. */
export interface Queued {
  message: Message
  qos: QoS
  retain: boolean
  subscriptionIds?: number[]
}

/**
 * State that outlives a network connection when the client asks for it
 * (clean session 0 in 3.1.1, session expiry > 0 in 5.0).
 */
export class Session {
  readonly clientId: string
  readonly subscriptions = new Map<string, SubOpts>()
  /** Outgoing QoS 1/2 messages sent and not yet fully acknowledged, by packet id. */
  readonly inflight = new Map<number, Outgoing>()
  /** Messages waiting for the client to come back or for room in the inflight window. */
  queue: Queued[] = []
  /** Inbound QoS 2 packet ids received (PUBREC sent) and not yet released. */
  readonly awaitingRel = new Set<number>()
  /** Seconds; 0 ends the session with the connection; 0xFFFFFFFF never expires. */
  expiryInterval = 0
  /** Messages dropped because the queue was full. */
  dropped = 0
  expiryTimer: NodeJS.Timeout | undefined
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
      if (!this.inflight.has(this.lastPacketId)) return this.lastPacketId
    }
    return 0
  }

  /** Queues a message; past `max` the oldest is dropped (and counted). */
  enqueue(item: Queued, max: number): void {
    if (max === 0) {
      this.dropped++
      return
    }
    if (this.queue.length >= max) {
      this.queue.shift()
      this.dropped++
    }
    this.queue.push(item)
  }
}
