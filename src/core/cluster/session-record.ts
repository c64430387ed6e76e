/**
 * A session as it travels between nodes: the record a node keeps in the sessions bucket for
 * each persistent session it holds (subscriptions, expiry, when its client left, and at that
 * moment its unacknowledged and queued messages), and the answer a node gives when another
 * node takes the session over (the same record with everything it holds now). JSON, with
 * each message as a cluster envelope (envelope.ts, topic included) in base64.
 */
import type {QoS} from '../protocol/codec.js'
import type {Message} from '../broker/message.js'
import type {InflightStage, SessionState, SubscriptionOptions} from '../broker/session-state.js'
import {decodeEnvelope, encodeEnvelope} from './envelope.js'
import type {EnvelopeMeta} from './envelope.js'

/** One unacknowledged (p: its packet id, s: its stage) or queued message. */
export interface PendingItem {
  m: string
  q: QoS
  r?: 1
  ids?: number[]
  g?: string
  p?: number
  s?: InflightStage
}

export interface SessionRecord {
  v: 1
  id: string
  /** The instance that holds the session (nats-bus.ts: name and a random suffix). */
  owner: string
  /** Its node name. */
  node: string
  /** When the record was written (ms since the epoch). */
  at: number
  /** Session Expiry Interval, seconds. */
  expiry: number
  /** When the client left (ms since the epoch); null while it is connected. */
  disc: number | null
  subs: Array<[string, SubscriptionOptions]>
  /** Inflight first (in packet id order as held), then the queue, oldest first. */
  pending?: PendingItem[]
  /** Inbound QoS 2 packet ids awaiting PUBREL. */
  rel?: number[]
  /** The pending messages were left out (too large for one NATS message). */
  cut?: 1
}

const NO_ORIGIN = Buffer.alloc(0)

function item(message: Message, qos: QoS, retain: boolean, ids: number[] | undefined, group: string | undefined, now: number): PendingItem {
  const out: PendingItem = {m: encodeEnvelope(message, NO_ORIGIN, 0, true, now).toString('base64'), q: qos}
  if (retain) out.r = 1
  if (ids !== undefined) out.ids = ids
  if (group !== undefined) out.g = group
  return out
}

/**
 * The record of a session; `pending` adds its inflight and queued messages. Past `maxBytes`
 * the messages are left out (`cut`): a node taking the session over then replays them from the
 * messages stream instead.
 */
export function encodeRecord(state: SessionState, owner: string, node: string, now: number, pending: boolean, maxBytes: number): Buffer {
  const rec: SessionRecord = {v: 1, id: state.clientId, owner, node, at: now, expiry: state.expiryInterval, disc: state.disconnectedAt ?? null, subs: state.subscriptions === undefined ? [] : [...state.subscriptions]}
  if (state.awaitingRel !== undefined && state.awaitingRel.size > 0) rec.rel = [...state.awaitingRel]
  if (pending) {
    const list: PendingItem[] = []
    if (state.inflight !== undefined) {
      for (const e of state.inflight.values()) {
        const it = item(e.message, e.qos, e.retain, e.subscriptionIds, e.group, now)
        it.p = e.packetId
        it.s = e.stage
        list.push(it)
      }
    }
    if (state.queue !== undefined) for (const q of state.queue) list.push(item(q.message, q.qos, q.retain, q.subscriptionIds, q.group, now))
    if (list.length > 0) rec.pending = list
  }
  let buf = Buffer.from(JSON.stringify(rec))
  if (buf.length > maxBytes && rec.pending !== undefined) {
    delete rec.pending
    rec.cut = 1
    buf = Buffer.from(JSON.stringify(rec))
  }
  return buf
}

function isOptions(o: unknown): o is SubscriptionOptions {
  const x = o as SubscriptionOptions
  return typeof x === 'object' && x !== null && (x.qos === 0 || x.qos === 1 || x.qos === 2)
}

/** A record read back; undefined when it is not one this version reads. */
export function decodeRecord(data: Uint8Array): SessionRecord | undefined {
  try {
    const rec = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.length).toString()) as SessionRecord
    if (rec?.v !== 1 || typeof rec.id !== 'string' || typeof rec.owner !== 'string' || typeof rec.expiry !== 'number' || !Array.isArray(rec.subs)) return undefined
    if (!rec.subs.every((s) => Array.isArray(s) && typeof s[0] === 'string' && isOptions(s[1]))) return undefined
    return rec
  } catch {
    return undefined
  }
}

/** What a pending item holds, as the broker keeps it; undefined for an envelope this version cannot read. */
export interface PendingMessage {
  message: Message
  qos: QoS
  retain: boolean
  subscriptionIds?: number[]
  group?: string
  packetId?: number
  stage?: InflightStage
}

export function pendingOf(rec: SessionRecord, now: number): PendingMessage[] {
  const out: PendingMessage[] = []
  const meta: EnvelopeMeta = {origin: '', seq: 0}
  for (const it of rec.pending ?? []) {
    const message = decodeEnvelope(Buffer.from(it.m, 'base64'), undefined, meta, now)
    if (message === undefined) continue
    const p: PendingMessage = {message, qos: it.q, retain: it.r === 1}
    if (it.ids !== undefined) p.subscriptionIds = it.ids
    if (it.g !== undefined) p.group = it.g
    if (it.p !== undefined) {
      p.packetId = it.p
      p.stage = it.s === 'pubrel' ? 'pubrel' : 'publish'
    }
    out.push(p)
  }
  return out
}
