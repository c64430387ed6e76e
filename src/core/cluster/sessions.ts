/**
 * Persistent sessions cluster-wide. ClusterSessionStore wraps the node's session store
 * (memory or SQLite: every operation goes to it as before) and keeps, for each session with
 * a Session Expiry Interval above 0, a record in the JetStream key-value bucket
 * PREFIX_sessions (key: the client id, base64url; session-record.ts): which node holds it, its
 * subscriptions and expiry, and, once its client left, when, with its unacknowledged and
 * queued messages of that moment. The records are written at the turn's commit (so a CONNACK
 * or SUBACK of a persistent session means the record is stored) and deleted when the session
 * ends. Only connects, subscription changes and disconnects write: messages do not (those a
 * session gets while its client is away are in the messages stream, where a node that takes
 * over from a dead one replays them: handover.ts).
 *
 * A session this node does not hold is asked of the cluster (load: handover.ts), unless the
 * client connects with a clean start.
 */
import type {KV} from '@nats-io/kv'
import type {NatsConnection} from '@nats-io/transport-node'
import type {QueueLimits} from '../broker/queue.js'
import type {DelayedWill, Inflight, Queued, SessionState, SubscriptionOptions} from '../broker/session-state.js'
import type {SessionStore} from '../broker/session-store.js'
import type {Logger} from '../logger.js'
import {encodeRecord} from './session-record.js'
import type {PendingMessage, SessionRecord} from './session-record.js'

/** Limits that never drop: a session moved here keeps what it had. */
const UNBOUNDED: QueueLimits = {maxQueuedMessages: Number.MAX_SAFE_INTEGER, maxQueuedBytes: Number.MAX_SAFE_INTEGER, queueOverflow: 'drop-oldest'}

export function sessionKey(clientId: string): string {
  return Buffer.from(clientId).toString('base64url')
}

export async function openSessionsBucket(nc: NatsConnection, prefix: string, replicas: number): Promise<KV> {
  const {Kvm} = await import('@nats-io/kv')
  return new Kvm(nc).create(`${prefix}_sessions`, {history: 1, replicas})
}

/** Asks the cluster for a session this node does not hold (handover.ts); undefined: there is none. */
export type SessionFetch = (clientId: string) => Promise<SessionState | undefined>

export class ClusterSessionStore implements SessionStore {
  readonly inner: SessionStore
  private readonly owner: string
  private readonly node: string
  private readonly log: Logger
  private kv: KV | undefined
  private fetch: SessionFetch | undefined
  /** Largest record written (the NATS server's max payload, less room for headers). */
  maxBytes = 900_000
  /** Sessions whose record is to be written. */
  private readonly dirty = new Set<SessionState>()
  /** Revision of this node's last write per client id (a delete only removes this node's own record). */
  private readonly revisions = new Map<string, number>()
  private scheduled = false
  private closed = false
  /** Set while a session leaves for another node: its record is the new holder's to write. */
  releasing = false
  /** The last claim (attach calls claim, then load, in one synchronous step). */
  private lastClaim: {id: string; clean: boolean} | undefined
  private lastErrorLog = 0
  /** The inner store's figures, when it has any (a durable store). */
  readonly stats?: () => Record<string, number | string>

  constructor(inner: SessionStore, owner: string, node: string, log: Logger) {
    this.inner = inner
    this.owner = owner
    this.node = node
    this.log = log
    if (inner.stats !== undefined) this.stats = () => inner.stats!()
  }

  /** A client without a session here connected with a clean start (handover.ts: a dead node's record of it goes). */
  onCleanStart: ((clientId: string) => void) | undefined

  /** Whether NATS is reachable now: while it is not, records wait (written when it is back) and nothing is asked. */
  isUp: () => boolean = () => true

  /** The bucket is open and the cluster can be asked: records written from now on (those of restored sessions too). */
  attach(kv: KV, fetch: SessionFetch, maxPayload: number | undefined, isUp: () => boolean): void {
    this.kv = kv
    this.fetch = fetch
    this.isUp = isUp
    if (maxPayload !== undefined && maxPayload > 0) this.maxBytes = Math.max(1024, maxPayload - 4096)
    // Restored sessions are written once compared with the cluster's records (keep).
    for (const s of this.restored) this.dirty.delete(s)
    if (this.dirty.size > 0) this.schedule()
  }

  /** A client connected here (Bus.claim). */
  claimed(clientId: string, clean: boolean): void {
    this.lastClaim = {id: clientId, clean}
  }

  get durable(): boolean {
    return this.inner.durable
  }

  get size(): number {
    return this.inner.size
  }

  async restore(): Promise<SessionState[]> {
    const all = await this.inner.restore()
    // This node holds them (again), unless another node took one over meanwhile (handover.ts reconcile).
    this.restored = all.filter((s) => s.expiryInterval > 0)
    return all
  }

  /** Sessions read from the node's own store at start, until the cluster's records are compared with them. */
  restored: SessionState[] = []

  /** A restored session this node still holds: its record says so. */
  keep(state: SessionState): void {
    this.mark(state)
  }

  async load(clientId: string): Promise<SessionState | undefined> {
    const local = await this.inner.load(clientId)
    if (local !== undefined) return local
    const claim = this.lastClaim
    this.lastClaim = undefined
    if (claim !== undefined && claim.id === clientId && claim.clean) {
      this.onCleanStart?.(clientId)
      return undefined
    }
    if (this.fetch === undefined) return undefined
    if (!this.isUp()) {
      this.log.warn('cluster: NATS is unreachable; the client gets a new session here instead of its session in the cluster', {clientId})
      return undefined
    }
    try {
      return await this.fetch(clientId)
    } catch (error) {
      this.log.warn('cluster: could not ask the cluster for a session; the client gets a new one here', {clientId, error: (error as Error).message})
      return undefined
    }
  }

  /** NATS is back: the records changed meanwhile are written. */
  resume(): void {
    if (this.dirty.size > 0) this.schedule()
  }

  /** A session from a record or another node's answer, made in this store (so a durable store writes it). */
  build(rec: SessionRecord, pending: PendingMessage[], now: number): SessionState {
    const state = this.create(rec.id, rec.expiry)
    for (const [filter, options] of rec.subs) this.subscribe(state, filter, options)
    for (const p of pending) {
      const q: Queued = {message: p.message, qos: p.qos, retain: p.retain}
      if (p.subscriptionIds !== undefined) q.subscriptionIds = p.subscriptionIds
      if (p.group !== undefined) q.group = p.group
      if (p.packetId !== undefined && state.inflight?.has(p.packetId) !== true) this.inflightPut(state, {...q, packetId: p.packetId, stage: p.stage ?? 'publish'})
      else this.enqueue(state, q, UNBOUNDED)
    }
    for (const id of rec.rel ?? []) this.awaitRelease(state, id)
    this.setDisconnectedAt(state, rec.disc ?? now)
    return state
  }

  create(clientId: string, expiryInterval: number): SessionState {
    const state = this.inner.create(clientId, expiryInterval)
    if (expiryInterval > 0) this.mark(state)
    else this.forget(clientId)
    return state
  }

  delete(state: SessionState): void {
    this.inner.delete(state)
    this.dirty.delete(state)
    if (this.releasing) this.revisions.delete(state.clientId)
    else this.forget(state.clientId)
  }

  /** This node's record of a client id, deleted (only if nobody wrote one since). */
  forget(clientId: string): void {
    const revision = this.revisions.get(clientId)
    if (revision === undefined || this.kv === undefined) return
    this.revisions.delete(clientId)
    this.kv.delete(sessionKey(clientId), {previousSeq: revision}).catch(() => {
      // Written by another node since: the record is theirs.
    })
  }

  setExpiry(state: SessionState, expiryInterval: number): void {
    this.inner.setExpiry(state, expiryInterval)
    if (expiryInterval > 0) this.mark(state)
    else {
      this.dirty.delete(state)
      this.forget(state.clientId)
    }
  }

  setDisconnectedAt(state: SessionState, at: number | undefined): void {
    this.inner.setDisconnectedAt(state, at)
    this.mark(state)
  }

  subscribe(state: SessionState, filter: string, options: SubscriptionOptions): void {
    this.inner.subscribe(state, filter, options)
    this.mark(state)
  }

  unsubscribe(state: SessionState, filter: string): boolean {
    const had = this.inner.unsubscribe(state, filter)
    if (had) this.mark(state)
    return had
  }

  enqueue(state: SessionState, item: Queued, limits: QueueLimits): number {
    return this.inner.enqueue(state, item, limits)
  }

  dequeue(state: SessionState): Queued | undefined {
    return this.inner.dequeue(state)
  }

  takeQueued(state: SessionState, take: (q: Queued) => boolean): Queued[] {
    return this.inner.takeQueued(state, take)
  }

  inflightPut(state: SessionState, entry: Inflight): void {
    this.inner.inflightPut(state, entry)
  }

  inflightRelease(state: SessionState, packetId: number): void {
    this.inner.inflightRelease(state, packetId)
  }

  inflightAck(state: SessionState, packetId: number): Inflight | undefined {
    return this.inner.inflightAck(state, packetId)
  }

  awaitRelease(state: SessionState, packetId: number): void {
    this.inner.awaitRelease(state, packetId)
  }

  released(state: SessionState, packetId: number): boolean {
    return this.inner.released(state, packetId)
  }

  setWill(state: SessionState, will: DelayedWill | undefined): void {
    this.inner.setWill(state, will)
  }

  clear(state: SessionState): void {
    this.inner.clear(state)
    this.mark(state)
  }


  private mark(state: SessionState): void {
    if (state.expiryInterval === 0) return
    this.dirty.add(state)
    this.schedule()
  }

  /** Changes outside a client's turn (a disconnect) are written at the end of this turn too. */
  private schedule(): void {
    if (this.scheduled || this.kv === undefined) return
    this.scheduled = true
    setImmediate(() => void this.write())
  }

  /** The turn's writes: the inner store's commit and the records of the sessions changed in it. */
  commit(): Promise<void> | undefined {
    const a = this.inner.commit()
    const b = this.write()
    return a === undefined ? b : b === undefined ? a : Promise.all([a, b]).then(() => undefined)
  }

  /** Writes the changed records; never fails the turn (a record not written is logged: the session then cannot move if this node dies). */
  private write(): Promise<void> | undefined {
    this.scheduled = false
    const kv = this.kv
    if (kv === undefined || this.dirty.size === 0 || this.closed || !this.isUp()) return undefined
    const now = Date.now()
    const writes: Array<Promise<void>> = []
    for (const state of this.dirty) {
      const id = state.clientId
      const data = encodeRecord(state, this.owner, this.node, now, state.disconnectedAt !== undefined, this.maxBytes)
      writes.push(
        kv.put(sessionKey(id), data).then(
          (revision) => void this.revisions.set(id, revision),
          (error: unknown) => this.failed(id, error),
        ),
      )
    }
    this.dirty.clear()
    return Promise.all(writes).then(() => undefined)
  }

  private failed(clientId: string, error: unknown): void {
    const now = Date.now()
    if (this.closed || now - this.lastErrorLog < 1000) return
    this.lastErrorLog = now
    this.log.warn('cluster: a session record could not be written to the sessions bucket', {clientId, error: (error as Error).message})
  }

  async close(): Promise<void> {
    this.closed = true
    await this.inner.close()
  }
}
