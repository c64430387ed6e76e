/**
 * What the other nodes subscribe to (EMQX's route table), so that a QoS 0 message goes to
 * NATS only when another node wants it: `wants(topic)` is the publish path's question, one
 * Map lookup for a topic seen before.
 *
 * Each node announces its filters (plain and shared, each counted, so only a filter's first
 * and last subscription are news) on `PREFIX.interest.n.INSTANCE` (interest-wire.ts): a delta
 * per turn that changed them, a whole snapshot when a node starts, comes back to NATS, or is
 * asked (`PREFIX.interest.req`). The others keep every node's filters in one topic trie
 * (interest-table.ts).
 *
 * **A SUBACK on node B means node A sends.** The delta of a turn that added a filter carries a
 * reply subject, every node answers once it has the filter in its table, and B's commit() (the
 * turn's SUBACK) waits for the answers of every node not yet counted as down (heard from in the
 * last three heartbeat intervals), for at most those three intervals: a node that is alive but
 * slow, e.g. parsing thousands of filters on a loaded machine, is still waited for. So a message published on A after B's SUBACK is sent to NATS, where B's
 * subscription is already known (the same commit flushed it).
 *
 * **When in doubt, send.** Until a node knows every other node's filters, `wants` answers yes
 * for every topic: for two heartbeat intervals after it starts (every live node is heard from by
 * then), while a node heard from has not sent its snapshot, after a gap in a node's sequence
 * numbers (until its snapshot comes again), and while NATS is away and after it comes back.
 *
 * A node's filters are dropped when it says goodbye (closing), when its heartbeats stop (three
 * missed, nodes.ts) and when it comes back as a new instance (restarted).
 */
import {randomBytes} from 'node:crypto'
import type {Msg, NatsConnection} from '@nats-io/transport-node'
import {InterestTable} from './interest-table.js'
import {MISSED_HEARTBEATS} from './nodes.js'
import type {Peer} from './interest-table.js'
import type {Announcement, Snapshot} from './interest-wire.js'
import {parseAnnouncement, parts} from './interest-wire.js'
import {escapeLevel} from './subjects.js'

/** This node's own shared groups in the table (their messages go through NATS's queue groups). */
const SELF = ''

interface Wait {
  expected: Set<string>
  resolve: () => void
  timer: NodeJS.Timeout
}

export interface RemoteInterestOptions {
  prefix: string
  name: string
  instance: string
  heartbeatMs: number
}

export interface InterestStats {
  /** Every other node's filters are known (otherwise every message goes to NATS). */
  ready: boolean
  /** Other nodes whose filters are known. */
  peers: number
  /** Filters of other nodes (and shared groups of this one) in the table. */
  filters: number
  /** Announcements this node could not read. */
  malformed: number
  /** Turns whose SUBACK stopped waiting for a node's answer (a node slow or gone). */
  unanswered: number
}

/** After the check phase of the change's turn, where TurnFlush's commit runs: in the next one. */
function announceLate(ri: RemoteInterest): void {
  setImmediate(() => ri.announceNow())
}

export class RemoteInterest {
  private readonly o: RemoteInterestOptions
  private readonly table = new InterestTable()
  /** This node's filters, counted (plain subscriptions as one, each shared group as one). */
  private readonly mine = new Map<string, number>()
  /** This node's shared groups' filters, counted. */
  private readonly sharedHere = new Map<string, number>()
  /** This turn's changes of `mine`, announced by commit(). */
  private changes: string[] = []
  private seq = 0
  private nc: NatsConnection | undefined
  private readonly inbox = `_INBOX.mqttws.${randomBytes(9).toString('base64url')}.i.`
  private readonly waits = new Map<number, Wait>()
  private ready = false
  private linked = false
  private graceOver = false
  private grace: NodeJS.Timeout | undefined
  private snapshotDue = false
  private lateDue = false
  private closed = false
  private malformed = 0
  private unanswered = 0

  constructor(options: RemoteInterestOptions) {
    this.o = options
  }

  private get subject(): string {
    return `${this.o.prefix}.interest.n.${escapeLevel(this.o.instance)}`
  }

  /**
   * The publish path's question: does another node (or a shared group, whose members NATS picks
   * among) want messages on `topic`? Yes for everything until every node's filters are known.
   */
  wants(topic: string): boolean {
    return !this.ready || this.table.wants(topic)
  }

  /** This node has a subscription to `filter` (or one more). */
  add(filter: string): void {
    const n = this.mine.get(filter) ?? 0
    this.mine.set(filter, n + 1)
    if (n === 0 && this.nc !== undefined) this.change('+' + filter)
  }

  /** This node has one subscription less to `filter`. */
  remove(filter: string): void {
    const n = this.mine.get(filter)
    if (n === undefined) return
    if (n > 1) return void this.mine.set(filter, n - 1)
    this.mine.delete(filter)
    if (this.nc !== undefined) this.change('-' + filter)
  }

  /**
   * A change to announce. The turn's commit() normally does (its SUBACK waits for the answers);
   * a change no commit takes (a client's connection closing ends its subscriptions outside a turn
   * that commits) is announced two event-loop turns later, after the turn's commit would have run.
   */
  private change(c: string): void {
    this.changes.push(c)
    if (this.lateDue) return
    this.lateDue = true
    setImmediate(announceLate, this)
  }

  /** @internal announceLate's second step. */
  announceNow(): void {
    this.lateDue = false
    void this.commit()
  }

  /** A shared group with members here: its messages reach them through NATS, so its filter counts as wanted. */
  addShared(filter: string): void {
    this.add(filter)
    const n = this.sharedHere.get(filter) ?? 0
    this.sharedHere.set(filter, n + 1)
    if (n === 0) this.table.add(filter, SELF)
  }

  removeShared(filter: string): void {
    const n = this.sharedHere.get(filter)
    if (n === undefined) return
    this.remove(filter)
    if (n > 1) return void this.sharedHere.set(filter, n - 1)
    this.sharedHere.delete(filter)
    this.table.remove(filter, SELF)
  }

  /** The NATS connection is up (start): listen, announce this node's filters, ask for everyone's. */
  attach(nc: NatsConnection): void {
    this.nc = nc
    const p = this.o.prefix
    const announced = (err: Error | null, msg: Msg): void => {
      if (err === null) this.onAnnouncement(msg)
    }
    nc.subscribe(`${p}.interest.n.*`, {callback: announced})
    nc.subscribe(`${p}.interest.req`, {callback: announced})
    nc.subscribe(`${this.inbox}*`, {callback: (err, msg) => (err === null ? this.onAnswer(msg) : undefined)})
    this.grace = setTimeout(() => {
      this.graceOver = true
      this.recompute()
    }, 2 * this.o.heartbeatMs)
    this.grace.unref()
    this.link(true)
  }

  /** The NATS connection went away (send everything once back, until every snapshot is in) or came back. */
  link(up: boolean): void {
    this.linked = up
    if (up) {
      // Announcements may have been lost meanwhile, both ways.
      for (const peer of this.table.peers.values()) peer.complete = false
      this.sendSnapshot()
      this.ask('*', Date.now())
    }
    this.recompute()
  }

  /**
   * The end of a turn: announces this turn's changes. When it added a filter, resolves once every
   * node heard from lately has it in its table (or once a silent node would count as down); otherwise undefined.
   */
  commit(): Promise<void> | undefined {
    if (this.changes.length === 0) return undefined
    const changes = this.changes
    this.changes = []
    const nc = this.nc
    if (nc === undefined || this.closed || !this.linked) return undefined
    // Every node not yet counted as down: one whose heartbeats are late under load must still have the filter before the SUBACK.
    const expected = changes.some((c) => c[0] === '+') ? this.table.heardSince(Date.now() - MISSED_HEARTBEATS * this.o.heartbeatMs) : undefined
    const wait = expected !== undefined && expected.size > 0
    const chunks = parts(changes)
    try {
      for (let i = 0; i < chunks.length; i++) {
        const s = ++this.seq
        const delta = JSON.stringify({k: 'd', i: this.o.instance, n: this.o.name, s, c: chunks[i]})
        nc.publish(this.subject, delta, wait && i === chunks.length - 1 ? {reply: this.inbox + s} : undefined)
      }
    } catch {
      // Closed meanwhile: the snapshot on reconnection says it all.
      return undefined
    }
    if (!wait) return undefined
    const seq = this.seq
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.settle(seq, true), MISSED_HEARTBEATS * this.o.heartbeatMs)
      this.waits.set(seq, {expected, resolve, timer})
    })
  }

  /** A heartbeat (nodes.ts): a node new to this one (or a new instance of a known name) is asked for its filters. */
  heard(info: {instance?: unknown; name?: unknown} | null, now: number): void {
    if (typeof info?.instance !== 'string' || typeof info.name !== 'string' || info.instance === this.o.instance) return
    this.peer(info.instance, info.name, now).at = now
    this.recompute()
  }

  /**
   * Every heartbeat interval, with the node table: drops the filters of nodes down or gone,
   * asks again for the snapshots still missing.
   */
  sync(nodes: ReadonlyArray<{instance: string; name: string; state: string}>, now: number): void {
    const listed = new Set<string>()
    for (const n of nodes) {
      if (n.instance === this.o.instance) continue
      listed.add(n.instance)
      if (n.state !== 'up') this.drop(n.instance)
      else this.peer(n.instance, n.name, now)
    }
    for (const [instance, peer] of this.table.peers) {
      if (!listed.has(instance) && now - peer.at > 3 * this.o.heartbeatMs) this.drop(instance)
      else if (!peer.complete && now - peer.asked >= this.o.heartbeatMs) this.ask(instance, now)
    }
    this.recompute()
  }

  stats(): InterestStats {
    let peers = 0
    for (const p of this.table.peers.values()) if (p.complete) peers++
    return {ready: this.ready, peers, filters: this.table.size, malformed: this.malformed, unanswered: this.unanswered}
  }

  /** Closing: the others drop this node's filters now rather than after its heartbeats stop. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.grace !== undefined) clearTimeout(this.grace)
    for (const seq of [...this.waits.keys()]) this.settle(seq, false)
    try {
      this.nc?.publish(this.subject, JSON.stringify({k: 'b', i: this.o.instance, n: this.o.name}))
    } catch {
      // Already closed: the heartbeats stop instead.
    }
  }

  private onAnnouncement(msg: Msg): void {
    const a: Announcement | undefined = parseAnnouncement(msg.data)
    if (a === undefined) {
      this.malformed++
      return
    }
    if (a.i === this.o.instance || this.closed) return
    const now = Date.now()
    if (a.k === 'q') {
      if (a.to === '*' || a.to === this.o.instance) this.snapshotSoon()
    } else if (a.k === 'b') {
      this.drop(a.i)
    } else {
      const peer = this.peer(a.i, a.n, now)
      peer.at = now
      if (a.k === 's') this.table.applySnapshot(a.i, peer, a)
      // Not complete: its snapshot (asked for) has this delta or comes before the next.
      else if (peer.complete && !this.table.applyDelta(a.i, peer, a)) this.ask(a.i, now)
    }
    this.recompute()
    // The sender's SUBACK waits for this: its filters are in this node's table now (or this node sends everything).
    if (msg.reply !== undefined && msg.reply !== '') msg.respond(this.o.instance)
  }

  private onAnswer(msg: Msg): void {
    const seq = Number(msg.subject.slice(this.inbox.length))
    const wait = this.waits.get(seq)
    if (wait === undefined) return
    wait.expected.delete(msg.string())
    if (wait.expected.size === 0) this.settle(seq, false)
  }

  private settle(seq: number, timedOut: boolean): void {
    const wait = this.waits.get(seq)
    if (wait === undefined) return
    this.waits.delete(seq)
    clearTimeout(wait.timer)
    if (timedOut) this.unanswered++
    wait.resolve()
  }

  /** The known node, or a new one (its filters unknown: asked for them); a known node of the same name is an older instance and goes. */
  private peer(instance: string, name: string, now: number): Peer {
    const known = this.table.peers.get(instance)
    if (known !== undefined) return known
    for (const [other, p] of this.table.peers) if (p.name === name) this.drop(other)
    const peer = this.table.create(instance, name, now)
    this.ask(instance, now)
    return peer
  }

  private drop(instance: string): void {
    if (!this.table.drop(instance)) return
    for (const [seq, wait] of this.waits) if (wait.expected.delete(instance) && wait.expected.size === 0) this.settle(seq, false)
    this.recompute()
  }

  private ask(to: string, now: number): void {
    const nc = this.nc
    if (nc === undefined || this.closed || !this.linked) return
    const peer = this.table.peers.get(to)
    if (peer !== undefined) peer.asked = now
    try {
      nc.publish(`${this.o.prefix}.interest.req`, JSON.stringify({k: 'q', i: this.o.instance, n: this.o.name, to}))
    } catch {
      // Down: asked again when back (link).
    }
  }

  /** Answers requests once per turn, however many came in it. */
  private snapshotSoon(): void {
    if (this.snapshotDue) return
    this.snapshotDue = true
    setImmediate(() => {
      this.snapshotDue = false
      this.sendSnapshot()
    })
  }

  private sendSnapshot(): void {
    const nc = this.nc
    if (nc === undefined || this.closed || !this.linked) return
    const chunks = parts([...this.mine.keys()])
    try {
      for (let i = 0; i < chunks.length; i++) {
        const s: Snapshot = {k: 's', i: this.o.instance, n: this.o.name, s: this.seq, f: chunks[i], first: i === 0, last: i === chunks.length - 1}
        nc.publish(this.subject, JSON.stringify(s))
      }
    } catch {
      // Down: sent again when back (link).
    }
  }

  private recompute(): void {
    this.ready = this.graceOver && this.linked && !this.closed && this.table.complete()
  }
}
