/**
 * Where sessions live between connections. Every change the broker makes to a session
 * goes through one of these operations, so a durable store sees it; the operations are
 * synchronous (they change the in-memory SessionState and, in a durable store, record the
 * write), and `commit()` writes what one event-loop turn recorded (the broker calls it
 * once per turn, from its flush, and holds that turn's QoS 1/2 acknowledgements until it
 * resolves). The memory store has nothing to write: `commit()` returns undefined.
 *
 * A durable store can extend MemorySessionStore: call the operation, then record it.
 */
import type {Inflight, Queued, SessionState, SubscriptionOptions} from './session-state.js'
import {newSessionState} from './session-state.js'
import {MessageQueue} from './queue.js'
import type {QueueLimits} from './queue.js'
import type {DelayedWill} from './session-state.js'

export interface SessionStore {
  /** True when writes wait for commit() (a store on disk or elsewhere). */
  readonly durable: boolean
  /** Sessions held. */
  readonly size: number
  /** Every stored session, read at start so the broker can rebuild its router. */
  restore(): Promise<SessionState[]>
  /** One session, when the broker holds none for the id (e.g. another node wrote it); a promise only when it must be fetched. */
  load(clientId: string): SessionState | undefined | Promise<SessionState | undefined>
  /** A new, empty session (replacing any stored one). */
  create(clientId: string, expiryInterval: number): SessionState
  delete(state: SessionState): void
  setExpiry(state: SessionState, expiryInterval: number): void
  /** The client left (at `now`) or came back (undefined). */
  setDisconnectedAt(state: SessionState, at: number | undefined): void
  subscribe(state: SessionState, filter: string, options: SubscriptionOptions): void
  /** Returns whether the subscription existed. */
  unsubscribe(state: SessionState, filter: string): boolean
  /** Appends to the queue under its limits; returns how many messages were dropped. */
  enqueue(state: SessionState, item: Queued, limits: QueueLimits): number
  /** The oldest queued message, removed. */
  dequeue(state: SessionState): Queued | undefined
  /** Removes and returns the queued messages `take` selects (a shared-subscription hand-over). */
  takeQueued(state: SessionState, take: (q: Queued) => boolean): Queued[]
  /** An outbound message was sent with entry.packetId (stage 'publish'). */
  inflightPut(state: SessionState, entry: Inflight): void
  /** PUBREC received: the message is released, PUBREL sent (stage 'pubrel'). */
  inflightRelease(state: SessionState, packetId: number): void
  /** PUBACK or PUBCOMP received (or the message was handed to another member): the entry is removed. */
  inflightAck(state: SessionState, packetId: number): Inflight | undefined
  /** Inbound QoS 2: PUBREC is being sent for this id. */
  awaitRelease(state: SessionState, packetId: number): void
  /** Inbound QoS 2: PUBREL received; returns whether the id was known. */
  released(state: SessionState, packetId: number): boolean
  setWill(state: SessionState, will: DelayedWill | undefined): void
  /** Forgets subscriptions, queue, inflight and awaiting ids (a clean start). */
  clear(state: SessionState): void
  /** Writes what was recorded since the last commit; undefined when there is nothing to write. */
  commit(): Promise<void> | undefined
  close(): Promise<void>
  /** What a durable store holds (file, size, row counts), for the admin API; absent in memory. */
  stats?(): Record<string, number | string>
}

export class MemorySessionStore implements SessionStore {
  readonly durable: boolean = false
  protected readonly sessions = new Map<string, SessionState>()

  get size(): number {
    return this.sessions.size
  }

  restore(): Promise<SessionState[]> {
    return Promise.resolve([...this.sessions.values()])
  }

  load(clientId: string): SessionState | undefined {
    return this.sessions.get(clientId)
  }

  create(clientId: string, expiryInterval: number): SessionState {
    const state = newSessionState(clientId, expiryInterval)
    this.sessions.set(clientId, state)
    return state
  }

  delete(state: SessionState): void {
    if (this.sessions.get(state.clientId) === state) this.sessions.delete(state.clientId)
  }

  setExpiry(state: SessionState, expiryInterval: number): void {
    state.expiryInterval = expiryInterval
  }

  setDisconnectedAt(state: SessionState, at: number | undefined): void {
    state.disconnectedAt = at
  }

  subscribe(state: SessionState, filter: string, options: SubscriptionOptions): void {
    ;(state.subscriptions ??= new Map()).set(filter, options)
  }

  unsubscribe(state: SessionState, filter: string): boolean {
    return state.subscriptions?.delete(filter) === true
  }

  enqueue(state: SessionState, item: Queued, limits: QueueLimits, droppedOut?: Queued[]): number {
    const dropped = (state.queue ??= new MessageQueue()).push(item, limits, droppedOut)
    state.dropped += dropped
    return dropped
  }

  dequeue(state: SessionState): Queued | undefined {
    return state.queue?.shift()
  }

  takeQueued(state: SessionState, take: (q: Queued) => boolean): Queued[] {
    return state.queue === undefined ? [] : state.queue.extract(take)
  }

  inflightPut(state: SessionState, entry: Inflight): void {
    ;(state.inflight ??= new Map()).set(entry.packetId, entry)
  }

  inflightRelease(state: SessionState, packetId: number): void {
    const entry = state.inflight?.get(packetId)
    if (entry !== undefined) entry.stage = 'pubrel'
  }

  inflightAck(state: SessionState, packetId: number): Inflight | undefined {
    const entry = state.inflight?.get(packetId)
    if (entry !== undefined) state.inflight!.delete(packetId)
    return entry
  }

  awaitRelease(state: SessionState, packetId: number): void {
    ;(state.awaitingRel ??= new Set()).add(packetId)
  }

  released(state: SessionState, packetId: number): boolean {
    return state.awaitingRel?.delete(packetId) === true
  }

  setWill(state: SessionState, will: DelayedWill | undefined): void {
    state.will = will
  }

  clear(state: SessionState): void {
    state.subscriptions = undefined
    state.queue = undefined
    state.inflight = undefined
    state.awaitingRel = undefined
  }

  commit(): Promise<void> | undefined {
    return undefined
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
