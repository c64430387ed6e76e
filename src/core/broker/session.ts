/**
 * A session at run time: its stored state (session-state.ts) plus what only lives while
 * the broker runs: the connection using it, the expiry and Will Delay timers, and scratch
 * fields for one fan-out (merging overlapping subscriptions without allocating).
 */
import type {QoS} from '../protocol/codec.js'
import type {ClientConnection} from './connection.js'
import type {SessionState} from './session-state.js'

/** A timer of the session (timers.ts Deadline). */
interface Cancellable {
  cancel(): void
}

export class Session {
  /** Tells a Session from a SharedGroup in the router's visitor. */
  readonly isGroup = false
  readonly clientId: string
  state: SessionState
  /** The connected client using this session, if any. */
  client: ClientConnection | undefined
  expiryTimer: Cancellable | undefined
  willTimer: Cancellable | undefined
  // Scratch fields for one fan-out (see Delivery.publish).
  matchEpoch = 0
  matchQos: QoS = 0
  matchRetainAsPublished = false
  matchSubscriptionIds: number[] | undefined
  private lastPacketId = 0

  constructor(state: SessionState) {
    this.clientId = state.clientId
    this.state = state
  }

  get subscriptionCount(): number {
    return this.state.subscriptions?.size ?? 0
  }

  get inflightCount(): number {
    return this.state.inflight?.size ?? 0
  }

  get queuedCount(): number {
    return this.state.queue?.length ?? 0
  }

  /** Next free packet id (1..65535), or 0 when all are in use. */
  nextPacketId(): number {
    const inflight = this.state.inflight
    for (let i = 0; i < 65535; i++) {
      this.lastPacketId = this.lastPacketId === 65535 ? 1 : this.lastPacketId + 1
      if (inflight === undefined || !inflight.has(this.lastPacketId)) return this.lastPacketId
    }
    return 0
  }
}
