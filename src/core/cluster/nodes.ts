/**
 * The cluster's nodes as one node knows them: every node announces itself on
 * `PREFIX.ctl.hb` every heartbeat interval; a node not heard from for three intervals is
 * "down" (kept in the table for a while, so the admin API and $SYS show it went away).
 */

/** What a heartbeat says about its node. */
export interface NodeInfo {
  name: string
  instance: string
  startedAt: number
  /** Its counters as of that heartbeat: messages sent to and received from NATS. */
  published?: number
  received?: number
}

export type NodeState = 'up' | 'down'

/** Heartbeats missed before a node counts as down. */
export const MISSED_HEARTBEATS = 3
const MISSED = MISSED_HEARTBEATS
/** Heartbeat intervals a down node stays in the table. */
const FORGET = 150

export class NodeTable {
  private readonly me: NodeInfo
  private readonly intervalMs: number
  private readonly seen = new Map<string, {info: NodeInfo; at: number}>()
  /** A node came back as a new instance since takeReplaced() was last asked. */
  private replaced = false

  constructor(name: string, instance: string, intervalMs: number, now = Date.now()) {
    this.me = {name, instance, startedAt: now}
    this.intervalMs = intervalMs
  }

  self(): NodeInfo {
    return this.me
  }

  /** A heartbeat arrived. A new instance of a known name replaces the old one (the node restarted). */
  heard(info: NodeInfo, now: number): void {
    if (typeof info?.instance !== 'string' || typeof info.name !== 'string' || info.instance === this.me.instance) return
    for (const [k, v] of this.seen) {
      if (v.info.name === info.name && k !== info.instance) {
        this.seen.delete(k)
        this.replaced = true
      }
    }
    const known: NodeInfo = {name: info.name, instance: info.instance, startedAt: Number(info.startedAt) || 0}
    if (typeof info.published === 'number') known.published = info.published
    if (typeof info.received === 'number') known.received = info.received
    this.seen.set(info.instance, {info: known, at: now})
  }

  /** When an instance was last heard from (ms since the epoch), if it is known. */
  heardAt(instance: string, now: number): number | undefined {
    const n = this.list(now).find((x) => x.instance === instance)
    return n === undefined ? undefined : now - n.lastSeenMs
  }

  /** Whether a node came back as a new instance (its old instance is gone) since the last call. */
  takeReplaced(): boolean {
    const r = this.replaced
    this.replaced = false
    return r
  }

  /** Every known node, this one first, with its state and how long ago it was heard from. */
  list(now: number): Array<NodeInfo & {state: NodeState; self: boolean; lastSeenMs: number}> {
    const out: Array<NodeInfo & {state: NodeState; self: boolean; lastSeenMs: number}> = [{...this.me, state: 'up', self: true, lastSeenMs: 0}]
    for (const [k, {info, at}] of this.seen) {
      const ago = now - at
      if (ago > FORGET * this.intervalMs) {
        this.seen.delete(k)
        continue
      }
      out.push({...info, state: ago > MISSED * this.intervalMs ? 'down' : 'up', self: false, lastSeenMs: ago})
    }
    return out
  }
}
