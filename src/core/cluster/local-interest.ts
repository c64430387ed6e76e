/**
 * This node's interest as NATS subscriptions (docs/architecture.md, "Routing by interest",
 * "Shared subscriptions"): the filters its clients hold, counted per filter, each one NATS
 * subscription per subject on the main connection; the shared groups with members here, each
 * the NATS queue group of its filter (and of its redelivery subject `PREFIX.sg.QUEUE`) on the
 * connection of the queue groups. Every filter's first and last holder is also told to the
 * other nodes (remote-interest.ts). A change marks the turn dirty: the NatsBus's commit()
 * then flushes it to the server, so a SUBACK means subscribed cluster-wide.
 */
import type {Msg, NatsConnection, Subscription} from '@nats-io/transport-node'
import type {RemoteInterest} from './remote-interest.js'
import {queueName} from './subjects.js'
import type {SubjectMap} from './subjects.js'

type MsgCallback = (err: Error | null, msg: Msg) => void

interface Interest {
  count: number
  subs: Subscription[]
}

interface SharedInterest {
  filter: string
  subs: Subscription[]
}

export class LocalInterest {
  private readonly interest = new Map<string, Interest>()
  private readonly shared = new Map<string, SharedInterest>()
  private nc: NatsConnection | undefined
  private qc: NatsConnection | undefined
  /** Interest changed in this turn: commit() flushes it to the server. */
  private dirty = false
  private closed = false

  /**
   * @param onPlain gets every message of a filter's subscriptions
   * @param onShared gets every message of a shared group's queue group, with the group's key
   */
  constructor(
    private readonly map: SubjectMap,
    private readonly prefix: string,
    private readonly remote: RemoteInterest,
    private readonly onPlain: MsgCallback,
    private readonly onShared: (key: string, err: Error | null, msg: Msg) => void,
  ) {}

  /** The connections are up: what was added before (sessions restored from a store) is subscribed now. */
  attach(nc: NatsConnection, qc: NatsConnection): void {
    this.nc = nc
    this.qc = qc
    for (const [filter, entry] of this.interest) if (entry.subs.length === 0) this.subscribe(entry, filter)
    for (const [key, entry] of this.shared) if (entry.subs.length === 0) this.subscribeShared(key, entry)
  }

  add(filter: string): void {
    const known = this.interest.get(filter)
    if (known !== undefined) {
      known.count++
      return
    }
    const entry: Interest = {count: 1, subs: []}
    this.interest.set(filter, entry)
    this.remote.add(filter)
    // Before the connection (sessions restored from a store): subscribed by attach().
    if (this.nc !== undefined) this.subscribe(entry, filter)
  }

  remove(filter: string): void {
    const known = this.interest.get(filter)
    if (known === undefined || --known.count > 0) return
    this.interest.delete(filter)
    this.remote.remove(filter)
    if (!this.closed) for (const s of known.subs) s.unsubscribe()
    this.dirty = true
  }

  /** A shared group with members here: this node joins the NATS queue group of its filter. */
  addShared(key: string, filter: string): void {
    if (this.shared.has(key)) return
    const entry: SharedInterest = {filter, subs: []}
    this.shared.set(key, entry)
    this.remote.addShared(filter)
    if (this.qc !== undefined) this.subscribeShared(key, entry)
  }

  removeShared(key: string): void {
    const entry = this.shared.get(key)
    if (entry === undefined) return
    this.shared.delete(key)
    this.remote.removeShared(entry.filter)
    if (!this.closed) for (const s of entry.subs) s.unsubscribe()
    this.dirty = true
  }

  /** Where a shared group's messages left unacknowledged by a member of another node go (NatsBus.redeliverShared). */
  redeliverySubject(key: string): string {
    return `${this.prefix}.sg.${queueName(key)}`
  }

  /** Whether the interest changed since the last call (the turn's commit waits for a flush). */
  takeDirty(): boolean {
    const d = this.dirty
    this.dirty = false
    return d
  }

  /** The connections are draining: subscriptions are no longer changed. */
  close(): void {
    this.closed = true
  }

  private subscribe(entry: Interest, filter: string): void {
    const nc = this.nc
    if (nc === undefined || this.closed) return
    for (const subject of this.map.filterSubjects(filter)) entry.subs.push(nc.subscribe(subject, {callback: this.onPlain}))
    this.dirty = true
  }

  private subscribeShared(key: string, entry: SharedInterest): void {
    const qc = this.qc
    if (qc === undefined || this.closed) return
    const queue = queueName(key)
    const callback: MsgCallback = (err, msg) => this.onShared(key, err, msg)
    for (const subject of this.map.filterSubjects(entry.filter)) entry.subs.push(qc.subscribe(subject, {queue, callback}))
    // Messages a member of another node left unacknowledged (NatsBus.redeliverShared).
    entry.subs.push(qc.subscribe(this.redeliverySubject(key), {queue, callback}))
    this.dirty = true
  }
}
