/**
 * Sessions in SQLite. Every operation changes the in-memory SessionState (as the memory
 * store does) and records the matching row write in the database's journal; the broker's
 * per-turn commit writes them in one transaction. Sessions that end with their connection
 * (expiry 0: a clean session) never touch the disk.
 */
import {MessageQueue} from '../broker/queue.js'
import type {QueueLimits} from '../broker/queue.js'
import type {DelayedWill, Inflight, Queued, SessionState, SubscriptionOptions} from '../broker/session-state.js'
import {newSessionState} from '../broker/session-state.js'
import {MemorySessionStore} from '../broker/session-store.js'
import {messageFromBlob, messageToBlob} from './message-blob.js'
import type {Rewriter, SqliteDatabase, Write} from './sqlite-db.js'

/** Limits that never drop: rows read back are what was stored. */
const UNBOUNDED: QueueLimits = {maxQueuedMessages: Number.MAX_SAFE_INTEGER, maxQueuedBytes: Number.MAX_SAFE_INTEGER, queueOverflow: 'drop-oldest'}

interface SessionRow {
  client_id: string
  expiry: number
  disconnected_at: number | null
  dropped: number
  will: Buffer | null
  will_expires_at: number | null
  will_due: number | null
}

interface MessageRow {
  client_id: string
  seq: number
  message: Buffer
  expires_at: number | null
  qos: 0 | 1 | 2
  retain: number
  subscription_ids: string | null
  grp: string | null
}

function persisted(state: SessionState): boolean {
  return state.expiryInterval > 0
}

function ids(list: number[] | undefined): string | null {
  return list === undefined ? null : list.join(',')
}

function queuedFromRow(row: MessageRow): Queued {
  const q: Queued = {message: messageFromBlob(row.message, row.expires_at), qos: row.qos, retain: row.retain === 1, seq: row.seq}
  if (row.subscription_ids !== null) q.subscriptionIds = row.subscription_ids.split(',').map(Number)
  if (row.grp !== null) q.group = row.grp
  return q
}

export class SqliteSessionStore extends MemorySessionStore implements Rewriter {
  override readonly durable = true
  readonly database: SqliteDatabase
  /** Scratch for the messages a full queue drops. */
  private readonly dropped: Queued[] = []
  /** The message dequeue() took last, and where its row's delete sits in the journal: sent at once, it becomes an update. */
  private taken: {state: SessionState; seq: number; at: number} | undefined

  constructor(database: SqliteDatabase) {
    super()
    this.database = database
    database.addRewriter(this)
  }

  /** Reads every stored session into memory; called once, at start. */
  override restore(): Promise<SessionState[]> {
    const db = this.database.reader
    this.sessions.clear()
    for (const r of db.prepare('SELECT * FROM sessions').all() as SessionRow[]) {
      const s = newSessionState(r.client_id, r.expiry)
      s.disconnectedAt = r.disconnected_at ?? undefined
      s.dropped = r.dropped
      if (r.will !== null) s.will = {message: messageFromBlob(r.will, r.will_expires_at), dueAt: r.will_due ?? 0}
      this.sessions.set(s.clientId, s)
    }
    const each = <T>(sql: string, fn: (s: SessionState, row: T) => void): void => {
      for (const row of db.prepare(sql).all() as Array<T & {client_id: string}>) {
        const s = this.sessions.get(row.client_id)
        if (s !== undefined) fn(s, row)
      }
    }
    each<{filter: string; qos: 0 | 1 | 2; no_local: number; retain_as_published: number; retain_handling: 0 | 1 | 2; subscription_id: number | null}>('SELECT * FROM subscriptions', (s, r) => {
      const o: SubscriptionOptions = {qos: r.qos, noLocal: r.no_local === 1, retainAsPublished: r.retain_as_published === 1, retainHandling: r.retain_handling}
      if (r.subscription_id !== null) o.subscriptionId = r.subscription_id
      ;(s.subscriptions ??= new Map()).set(r.filter, o)
    })
    // In position order: the queue oldest first, messages in flight in the order they were sent.
    each<MessageRow & {packet_id: number | null; stage: 'publish' | 'pubrel' | null}>('SELECT * FROM outbound ORDER BY client_id, seq', (s, r) => {
      if (r.packet_id === null) {
        ;(s.queue ??= new MessageQueue()).push(queuedFromRow(r), UNBOUNDED)
        return
      }
      const entry: Inflight = {...queuedFromRow(r), packetId: r.packet_id, stage: r.stage ?? 'publish'}
      ;(s.inflight ??= new Map()).set(entry.packetId, entry)
    })
    each<{packet_id: number}>('SELECT * FROM awaiting_rel', (s, r) => {
      ;(s.awaitingRel ??= new Set()).add(r.packet_id)
    })
    return Promise.resolve([...this.sessions.values()])
  }

  override create(clientId: string, expiryInterval: number): SessionState {
    // No stored session has this id now (the broker deleted any it replaced); a clean one is never written.
    const state = super.create(clientId, expiryInterval)
    if (persisted(state)) this.rewriteSession(clientId)
    return state
  }

  override delete(state: SessionState): void {
    super.delete(state)
    if (persisted(state)) this.rewriteSession(state.clientId)
  }

  override setExpiry(state: SessionState, expiryInterval: number): void {
    const was = persisted(state)
    super.setExpiry(state, expiryInterval)
    // Kept from now on (0 → more): all of it; ending with its connection (→ 0): none of it.
    if (was !== persisted(state)) this.rewriteSession(state.clientId)
    else if (was) this.database.session(state.clientId, 'setExpiry', [expiryInterval, state.clientId])
  }

  override setDisconnectedAt(state: SessionState, at: number | undefined): void {
    super.setDisconnectedAt(state, at)
    if (persisted(state)) this.database.session(state.clientId, 'setDisconnectedAt', [at ?? null, state.clientId])
  }

  override subscribe(state: SessionState, filter: string, o: SubscriptionOptions): void {
    super.subscribe(state, filter, o)
    if (persisted(state)) {
      this.database.session(state.clientId, 'putSubscription', [state.clientId, filter, o.qos, o.noLocal ? 1 : 0, o.retainAsPublished ? 1 : 0, o.retainHandling, o.subscriptionId ?? null])
    }
  }

  override unsubscribe(state: SessionState, filter: string): boolean {
    const existed = super.unsubscribe(state, filter)
    if (existed && persisted(state)) this.database.session(state.clientId, 'deleteSubscription', [state.clientId, filter])
    return existed
  }

  override enqueue(state: SessionState, item: Queued, limits: QueueLimits): number {
    if (!persisted(state)) return super.enqueue(state, item, limits)
    const dropped = this.dropped
    const n = super.enqueue(state, item, limits, dropped)
    if (dropped[dropped.length - 1] !== item) this.putQueued(state, item)
    for (let i = 0; i < dropped.length; i++) {
      const seq = dropped[i].seq
      if (seq !== undefined && dropped[i] !== item) this.database.session(state.clientId, 'deleteOutbound', [state.clientId, seq])
    }
    dropped.length = 0
    if (n > 0) this.database.session(state.clientId, 'setDropped', [state.dropped, state.clientId])
    return n
  }

  override dequeue(state: SessionState): Queued | undefined {
    const q = super.dequeue(state)
    if (q?.seq !== undefined && persisted(state)) this.taken = {state, seq: q.seq, at: this.database.session(state.clientId, 'deleteOutbound', [state.clientId, q.seq])}
    return q
  }

  override takeQueued(state: SessionState, take: (q: Queued) => boolean): Queued[] {
    const taken = super.takeQueued(state, take)
    if (persisted(state)) for (const q of taken) if (q.seq !== undefined) this.database.session(state.clientId, 'deleteOutbound', [state.clientId, q.seq])
    return taken
  }

  override inflightPut(state: SessionState, entry: Inflight): void {
    super.inflightPut(state, entry)
    if (!persisted(state)) return
    const t = this.taken
    this.taken = undefined
    if (t !== undefined && t.state === state && t.seq === entry.seq) {
      // The message just taken from the queue is being sent: its row is updated, not deleted and written again.
      this.database.replace(t.at, 'sendOutbound', [entry.packetId, entry.stage, state.clientId, entry.seq])
      return
    }
    entry.seq = undefined
    this.database.session(state.clientId, 'putOutbound', this.outboundParams(state, entry))
  }

  override inflightRelease(state: SessionState, packetId: number): void {
    super.inflightRelease(state, packetId)
    const seq = state.inflight?.get(packetId)?.seq
    if (seq !== undefined && persisted(state)) this.database.session(state.clientId, 'setStage', ['pubrel', state.clientId, seq])
  }

  override inflightAck(state: SessionState, packetId: number): Inflight | undefined {
    const entry = super.inflightAck(state, packetId)
    if (entry?.seq !== undefined && persisted(state)) this.database.session(state.clientId, 'deleteOutbound', [state.clientId, entry.seq])
    return entry
  }

  override awaitRelease(state: SessionState, packetId: number): void {
    super.awaitRelease(state, packetId)
    if (persisted(state)) this.database.session(state.clientId, 'putAwaiting', [state.clientId, packetId])
  }

  override released(state: SessionState, packetId: number): boolean {
    const known = super.released(state, packetId)
    if (known && persisted(state)) this.database.session(state.clientId, 'deleteAwaitingOne', [state.clientId, packetId])
    return known
  }

  override setWill(state: SessionState, will: DelayedWill | undefined): void {
    super.setWill(state, will)
    if (!persisted(state)) return
    const params = will === undefined ? [null, null, null, state.clientId] : [messageToBlob(will.message), will.message.expiresAt ?? null, will.dueAt, state.clientId]
    this.database.session(state.clientId, 'setWill', params)
  }

  override clear(state: SessionState): void {
    super.clear(state)
    if (persisted(state)) this.rewriteSession(state.clientId)
  }

  override commit(): Promise<void> | undefined {
    this.taken = undefined
    return this.database.commit()
  }

  override close(): Promise<void> {
    return this.database.close()
  }

  /** The file and what it holds (counted in memory, which the file mirrors). */
  stats(): Record<string, number | string> {
    let sessions = 0
    let subscriptions = 0
    let queued = 0
    let inflight = 0
    for (const s of this.sessions.values()) {
      if (!persisted(s)) continue
      sessions++
      subscriptions += s.subscriptions?.size ?? 0
      queued += s.queue?.length ?? 0
      inflight += s.inflight?.size ?? 0
    }
    return {...this.database.stats(), sessions, subscriptions, queued, inflight, retained: this.database.retainedCount()}
  }

  /**
   * Writes a session whole from memory, or erases it when it is gone or not kept: into the
   * journal (create, delete, clear), or through `write` (a rewrite after a failed commit).
   */
  rewriteSession(clientId: string, write?: Write): void {
    const db = this.database
    const put: Write = write ?? ((name, params) => void db.session(clientId, name, params))
    for (const name of ['deleteSession', 'deleteSubscriptions', 'deleteOutboundAll', 'deleteAwaiting'] as const) put(name, [clientId])
    const s = this.sessions.get(clientId)
    if (s === undefined || !persisted(s)) return
    const w = s.will
    put('putSession', [clientId, s.expiryInterval, s.disconnectedAt ?? null, s.dropped, w ? messageToBlob(w.message) : null, w?.message.expiresAt ?? null, w?.dueAt ?? null])
    if (s.subscriptions) {
      for (const [filter, o] of s.subscriptions) put('putSubscription', [clientId, filter, o.qos, o.noLocal ? 1 : 0, o.retainAsPublished ? 1 : 0, o.retainHandling, o.subscriptionId ?? null])
    }
    if (s.queue) for (const q of s.queue) put('putOutbound', this.outboundParams(s, q))
    if (s.inflight) for (const e of s.inflight.values()) put('putOutbound', this.outboundParams(s, e))
    if (s.awaitingRel) for (const id of s.awaitingRel) put('putAwaiting', [clientId, id])
  }

  rewriteRetained(): void {}

  private putQueued(state: SessionState, q: Queued): void {
    q.seq = undefined
    this.database.session(state.clientId, 'putOutbound', this.outboundParams(state, q))
  }

  /** A row of `outbound`: a queued message (no packet id yet) or one in flight. Positions are kept once given. */
  private outboundParams(state: SessionState, q: Queued | Inflight): unknown[] {
    q.seq ??= this.database.nextSeq()
    const inflight = 'packetId' in q
    return [
      state.clientId,
      q.seq,
      inflight ? q.packetId : null,
      inflight ? q.stage : null,
      messageToBlob(q.message),
      q.message.expiresAt ?? null,
      q.qos,
      q.retain ? 1 : 0,
      ids(q.subscriptionIds),
      q.group ?? null,
    ]
  }
}
