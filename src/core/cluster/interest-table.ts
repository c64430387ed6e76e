/**
 * The other nodes' filters as this node knows them (remote-interest.ts keeps it up to date
 * from their announcements): one topic trie (the broker's Router, subscriber = a node's
 * instance, '' for this node's own shared groups) and its answer per topic remembered, so
 * `wants(topic)` is one Map lookup for a topic seen before.
 */
import {Router} from '../broker/router.js'
import type {Delta, Snapshot} from './interest-wire.js'

/** Topics whose answer is remembered; past this the memory starts over. */
const CACHE_TOPICS = 10_000

/** What one other node holds, as far as its announcements told. */
export interface Peer {
  name: string
  filters: Set<string>
  /** The sequence number of its last announcement applied. */
  seq: number
  /** Its filters are known: a whole snapshot and every delta since. */
  complete: boolean
  /** A snapshot arriving in parts. */
  building: Set<string> | undefined
  /** When it was last heard from (heartbeat or announcement). */
  at: number
  /** When its snapshot was last asked for. */
  asked: number
}

function hit(probe: {hit: boolean}): void {
  probe.hit = true
}

export class InterestTable {
  readonly peers = new Map<string, Peer>()
  private readonly table = new Router<string, true>()
  private readonly cache = new Map<string, boolean>()
  private readonly probe = {hit: false}

  /** Filters in the table (each node's counted once). */
  get size(): number {
    return this.table.size
  }

  /** Whether any filter in the table matches `topic`. */
  wants(topic: string): boolean {
    if (this.table.size === 0) return false
    const known = this.cache.get(topic)
    if (known !== undefined) return known
    const probe = this.probe
    probe.hit = false
    this.table.match(topic, hit, probe)
    if (this.cache.size >= CACHE_TOPICS) this.cache.clear()
    this.cache.set(topic, probe.hit)
    return probe.hit
  }

  add(filter: string, who: string): void {
    this.table.add(filter, who, true)
    this.cache.clear()
  }

  remove(filter: string, who: string): void {
    this.table.remove(filter, who)
    this.cache.clear()
  }

  /** A node not known yet (its filters unknown). */
  create(instance: string, name: string, now: number): Peer {
    const peer: Peer = {name, filters: new Set(), seq: 0, complete: false, building: undefined, at: now, asked: 0}
    this.peers.set(instance, peer)
    return peer
  }

  /** A node's filters go (it left, died, or was replaced); returns whether it was known. */
  drop(instance: string): boolean {
    const peer = this.peers.get(instance)
    if (peer === undefined) return false
    this.peers.delete(instance)
    for (const f of peer.filters) this.remove(f, instance)
    return true
  }

  /** Applies a node's delta; false when it does not follow the last one applied (a gap: its snapshot is needed). */
  applyDelta(instance: string, peer: Peer, d: Delta): boolean {
    if (d.s !== peer.seq + 1) {
      peer.complete = false
      return false
    }
    peer.seq = d.s
    for (const c of d.c) {
      const filter = c.slice(1)
      if (c[0] === '+') {
        if (!peer.filters.has(filter)) {
          peer.filters.add(filter)
          this.add(filter, instance)
        }
      } else if (peer.filters.delete(filter)) {
        this.remove(filter, instance)
      }
    }
    return true
  }

  /** One part of a node's snapshot; the last part replaces what the table had of that node. */
  applySnapshot(instance: string, peer: Peer, s: Snapshot): void {
    if (s.first) peer.building = new Set()
    if (peer.building === undefined) return // its first part was missed: asked again at the next sync
    for (const f of s.f) peer.building.add(f)
    if (!s.last) return
    const next = peer.building
    peer.building = undefined
    for (const f of peer.filters) if (!next.has(f)) this.remove(f, instance)
    for (const f of next) if (!peer.filters.has(f)) this.add(f, instance)
    peer.filters = next
    peer.seq = s.s
    peer.complete = true
  }

  /** Every known node's filters are known. */
  complete(): boolean {
    for (const p of this.peers.values()) if (!p.complete) return false
    return true
  }

  /** Nodes heard from since `since`. */
  heardSince(since: number): Set<string> {
    const out = new Set<string>()
    for (const [instance, peer] of this.peers) if (peer.at >= since) out.add(instance)
    return out
  }
}
