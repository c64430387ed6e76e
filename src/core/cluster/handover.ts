/**
 * Sessions moving between nodes. A client connects to node B without a clean start and B
 * holds no session for it: B reads the client id's record in the sessions bucket
 * (sessions.ts) and asks the node it names (request/reply on PREFIX.ctl.session.INSTANCE, at
 * most `timeoutMs`). That node lets its connection go (MQTT 5: DISCONNECT 0x8E), answers
 * with the whole session (subscriptions, unacknowledged and queued messages, inbound QoS 2
 * ids) and forgets it; B adopts it (routes its subscriptions) and the CONNACK says session
 * present. When nobody answers (the node is dead: NATS says there are no responders, or the
 * wait runs out), B adopts the session from the record instead: the messages it held when
 * its client left, then every QoS 1/2 message the messages stream stored since then that
 * matches its subscriptions (replay.ts). A clean start elsewhere ends a session held here.
 */
import type {KV} from '@nats-io/kv'
import type {Msg, NatsConnection} from '@nats-io/transport-node'
import type {SessionHost} from '../broker/bus.js'
import type {Message} from '../broker/message.js'
import type {QueueLimits} from '../broker/queue.js'
import type {Queued, SessionState} from '../broker/session-state.js'
import {NEVER_EXPIRES} from '../broker/session-state.js'
import type {Logger} from '../logger.js'
import {decodeEnvelope} from './envelope.js'
import type {EnvelopeMeta} from './envelope.js'
import {replayStream} from './replay.js'
import {decodeRecord, encodeRecord, pendingOf} from './session-record.js'
import type {SessionRecord} from './session-record.js'
import {openSessionsBucket, sessionKey} from './sessions.js'
import type {ClusterSessionStore} from './sessions.js'
import type {SubjectMap} from './subjects.js'

/** Messages this node received while a replay runs (origin and sequence): the replay skips them, the session got them live. */
export interface ReplayGuard {
  active: number
  readonly live: Set<string>
}

export interface HandoverDeps {
  nc: NatsConnection
  kv: KV
  store: ClusterSessionStore
  host: SessionHost
  map: SubjectMap
  instance: string
  name: string
  /** How long a node waits for the holder's answer before it takes the session from its record. */
  timeoutMs: number
  heartbeatMs: number
  log: Logger
  guard: ReplayGuard
  /** This node's last envelope sequence number. */
  ownSeq: () => number
  /** When an instance was last heard from (ms since the epoch), if known. */
  lastSeen: (instance: string) => number | undefined
}

export interface HandoverStats {
  /** Sessions this node handed to another node. */
  sessionsSent: number
  /** Sessions this node took from another node's answer. */
  sessionsReceived: number
  /** Sessions this node took from the record of a node that did not answer. */
  sessionsRecovered: number
  /** Messages replayed from the messages stream into recovered sessions. */
  messagesReplayed: number
}

/** Whether an offline session's expiry has run out (NEVER_EXPIRES: never). */
function expired(rec: SessionRecord, now: number): boolean {
  return rec.disc !== null && rec.expiry !== NEVER_EXPIRES && rec.disc + rec.expiry * 1000 <= now
}

/** Messages that were queued already are put back as they were: no limit drops them. */
const UNBOUNDED: QueueLimits = {maxQueuedMessages: Number.MAX_SAFE_INTEGER, maxQueuedBytes: Number.MAX_SAFE_INTEGER, queueOverflow: 'drop-oldest'}

export function sessionSubject(prefix: string, instance: string): string {
  return `${prefix}.ctl.session.${Buffer.from(instance).toString('base64url')}`
}

export class Handover {
  readonly stats: HandoverStats = {sessionsSent: 0, sessionsReceived: 0, sessionsRecovered: 0, messagesReplayed: 0}
  private readonly d: HandoverDeps

  /** Every record's key and revision in the bucket (a watch on headers only): a clean start deletes one without asking first. */
  private readonly index = new Map<string, number>()
  private watcher: {stop(): void} | undefined

  constructor(deps: HandoverDeps) {
    this.d = deps
    deps.nc.subscribe(sessionSubject(deps.map.prefix, deps.instance), {callback: (err, msg) => (err === null ? this.onRequest(msg) : undefined)})
  }

  /** Follows the bucket's keys (not their values): a record put or deleted anywhere is known here. */
  async watch(): Promise<void> {
    const entries = await this.d.kv.watch({headers_only: true})
    this.watcher = entries
    void (async () => {
      for await (const e of entries) {
        if (e.operation === 'PUT') this.index.set(e.key, e.revision)
        else this.index.delete(e.key)
      }
    })().catch(() => {})
  }

  /**
   * A client connected here with a clean start: a record of its session left by a node that is
   * gone (a live holder ends its own: claims) is deleted, so a later resume does not find it.
   */
  cleanStart(clientId: string): void {
    const key = sessionKey(clientId)
    const revision = this.index.get(key)
    if (revision === undefined) return
    this.d.kv.delete(key, {previousSeq: revision}).catch(() => {
      // Written again since (by its holder or a new session): that record stays.
    })
  }

  close(): void {
    this.watcher?.stop()
  }

  /** Another node takes a session of this node: the answer is the whole session (or nothing: not held here). */
  private onRequest(msg: Msg): void {
    let ask: {id?: unknown; by?: unknown}
    try {
      ask = msg.json()
    } catch {
      return void msg.respond(new Uint8Array(0))
    }
    if (typeof ask?.id !== 'string') return void msg.respond(new Uint8Array(0))
    const {store, host} = this.d
    let state: SessionState | undefined
    store.releasing = true
    try {
      state = host.release(ask.id, `node ${String(ask.by)}`)
    } finally {
      store.releasing = false
    }
    if (state === undefined) return void msg.respond(new Uint8Array(0))
    this.stats.sessionsSent++
    msg.respond(encodeRecord(state, this.d.instance, this.d.name, Date.now(), true, store.maxBytes))
  }

  /** A client connected elsewhere with a clean start: a session held here (offline) ends. */
  ended(clientId: string, by: string): void {
    this.d.host.release(clientId, `node ${by}`, true)
  }

  /** The session of a client id held by another node, or left by a dead one, now held here; undefined: there is none. */
  async fetch(clientId: string): Promise<SessionState | undefined> {
    const d = this.d
    const entry = await d.kv.get(sessionKey(clientId))
    if (entry === null || entry.operation !== 'PUT') return undefined
    const rec = decodeRecord(entry.value)
    if (rec === undefined || rec.id !== clientId || rec.owner === d.instance) return undefined
    if (expired(rec, Date.now())) {
      // Its holder died before it expired: nobody did it, so it ends now.
      d.kv.delete(sessionKey(clientId), {previousSeq: entry.revision}).catch(() => {})
      return undefined
    }
    let answer: SessionRecord | undefined
    let replayFrom: number | undefined
    try {
      const reply = await d.nc.request(sessionSubject(d.map.prefix, rec.owner), JSON.stringify({id: clientId, by: d.name}), {timeout: d.timeoutMs})
      // Answered, but not held there (ended or moved meanwhile).
      if (reply.data.length === 0) return undefined
      answer = decodeRecord(reply.data)
      if (answer === undefined) return undefined
      this.stats.sessionsReceived++
    } catch (error) {
      // No responders (its connection is gone) or no answer in time: the node is dead.
      answer = rec
      replayFrom = rec.disc ?? this.diedAround(rec)
      this.stats.sessionsRecovered++
      d.log.info('cluster: took over the session of a node that does not answer, from its record', {clientId, node: rec.node, error: (error as Error).message})
    }
    // Messages too many for one NATS message were left out: they come from the stream.
    if (answer.cut === 1) replayFrom = Math.min(replayFrom ?? Number.POSITIVE_INFINITY, answer.disc ?? answer.at)
    const now = Date.now()
    const state = d.store.build(answer, pendingOf(answer, now), now)
    d.host.adopt(state)
    if (replayFrom !== undefined) await this.replay(state, replayFrom)
    return state
  }

  /**
   * At start, the sessions this node's own store had: one that another node has taken over
   * meanwhile (its record names another node) is no longer this node's and goes; the others
   * are recorded as this node's again.
   */
  async reconcile(): Promise<void> {
    const d = this.d
    for (const state of d.store.restored.splice(0)) {
      const entry = await d.kv.get(sessionKey(state.clientId)).catch(() => null)
      const rec = entry === null || entry.operation !== 'PUT' ? undefined : decodeRecord(entry.value)
      if (rec === undefined || rec.node === d.name) {
        d.store.keep(state)
        continue
      }
      d.store.releasing = true
      try {
        d.host.release(state.clientId, `node ${rec.node}`)
      } finally {
        d.store.releasing = false
      }
      d.log.info('cluster: a session restored from the store is held by another node now; dropped here', {clientId: state.clientId, node: rec.node})
    }
  }

  /** A session whose client was connected when its node died: from a little before the node was last heard from. */
  private diedAround(rec: SessionRecord): number {
    const seen = this.d.lastSeen(rec.owner)
    return seen === undefined ? rec.at : Math.max(rec.at, seen - 2 * this.d.heartbeatMs)
  }

  /** The stream's messages since `since` for one adopted session; those it got live meanwhile are skipped. */
  private async replay(state: SessionState, since: number): Promise<void> {
    const d = this.d
    const g = d.guard
    const clientId = state.clientId
    const ownFrom = d.ownSeq()
    // What the session held: these come first, then the stream's messages, then those that arrived live meanwhile.
    const held = new Set<Queued>(state.queue ?? [])
    const replayed: Message[] = []
    g.active++
    let n = 0
    try {
      // The adopted session's interest is known to the server before the stream is read.
      await d.nc.flush()
      const meta: EnvelopeMeta = {origin: '', seq: 0}
      await replayStream(d.nc, `${d.map.prefix}_messages`, d.map.durable, since, Math.max(2000, d.timeoutMs), (subject, data) => {
        const message = decodeEnvelope(data, d.map.subjectTopic(subject), meta, Date.now())
        if (message === undefined) return
        if (meta.origin === d.instance ? meta.seq > ownFrom : g.live.has(`${meta.origin} ${meta.seq}`)) return
        replayed.push(message)
      })
    } catch (error) {
      d.log.warn('cluster: replaying the messages stream into a recovered session failed', {clientId, read: replayed.length, error: (error as Error).message})
    } finally {
      if (--g.active === 0) g.live.clear()
      const live = d.store.takeQueued(state, (q) => !held.has(q))
      for (const m of replayed) if (d.host.replay(clientId, m)) n++
      for (const q of live) d.store.enqueue(state, q, UNBOUNDED)
      this.stats.messagesReplayed += n
    }
  }
}

/** Opens the sessions bucket, answers other nodes' requests from now on, and lets the store ask the cluster (nats-bus.ts start). */
export async function startHandover(deps: Omit<HandoverDeps, 'kv'>, replicas: number, isUp: () => boolean): Promise<Handover> {
  const kv = await openSessionsBucket(deps.nc, deps.map.prefix, replicas)
  const handover = new Handover({...deps, kv})
  deps.store.attach(kv, (clientId) => handover.fetch(clientId), deps.nc.info?.max_payload, isUp)
  deps.store.onCleanStart = (clientId) => handover.cleanStart(clientId)
  await handover.watch()
  await handover.reconcile()
  return handover
}
