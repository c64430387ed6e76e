/**
 * The $SYS topic tree, with Mosquitto's names (its src/sys_tree.c): every `interval`
 * seconds a timer reads the counters that already exist (listener counters, the broker's
 * metrics, the session and retained counts) and publishes the figures that changed as
 * retained messages from the broker itself. Nothing is added to the hot path.
 *
 * $SYS messages are node-local and never written to a durable store: SysRetained keeps
 * them in memory beside the configured retained store, so a subscriber to $SYS/# gets the
 * current values at once, and the disk sees no write every interval.
 */
import {topicMatches} from '../protocol/topic.js'
import type {Message} from './message.js'
import type {ListenerStatus} from './listener-manager.js'
import type {BrokerMetrics} from './metrics.js'
import type {RetainedStore} from './retained-store.js'

export const SYS_PREFIX = '$SYS/'

/** The retained store the engine uses: $SYS/… topics in memory, everything else in the configured store. */
export class SysRetained implements RetainedStore {
  readonly inner: RetainedStore
  private readonly sys = new Map<string, Message>()

  constructor(inner: RetainedStore) {
    this.inner = inner
  }

  get durable(): boolean {
    return this.inner.durable
  }

  get size(): number {
    return this.inner.size + this.sys.size
  }

  /** Retained messages clients stored ($SYS left out). */
  get storedSize(): number {
    return this.inner.size
  }

  restore(): Promise<void> {
    return this.inner.restore()
  }

  has(topic: string): boolean {
    return topic.startsWith(SYS_PREFIX) ? this.sys.has(topic) : this.inner.has(topic)
  }

  set(message: Message): void {
    if (!message.topic.startsWith(SYS_PREFIX)) return this.inner.set(message)
    if (message.payload.length === 0) this.sys.delete(message.topic)
    else this.sys.set(message.topic, message)
  }

  async *forFilter(filter: string): AsyncIterable<Message> {
    if (filter.startsWith('$')) {
      // Only $-filters match $-topics (MQTT-4.7.2-1).
      if (filter === '$SYS/#' || filter === '$SYS') {
        for (const m of this.sys.values()) yield m
      } else if (filter.startsWith(SYS_PREFIX) || filter.startsWith('$+') || filter === '$#') {
        for (const m of this.sys.values()) if (topicMatches(filter, m.topic)) yield m
      }
    }
    yield* this.inner.forFilter(filter)
  }

  commit(): Promise<void> | undefined {
    return this.inner.commit()
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}

/** What the $SYS tree reads: the Broker's public inspection methods. */
export interface SysSource {
  /** Summed from `statuses` (what listenerStatuses() returned), not read again. */
  totals(statuses: readonly ListenerStatus[]): {
    clients: number
    sessions: number
    connections: {current: number; peak: number; accepted: number; rejectedTotal: number}
    bytes: {in: number; out: number}
    packets: {in: number; out: number}
    messages: {published: number; delivered: number}
    metrics: BrokerMetrics
    /** The durable store's figures (file bytes, rows, failed commits), with --data-dir. */
    store?: Record<string, number | string>
  }
  listenerStatuses(): ListenerStatus[]
  subscriptionCount(): {total: number; shared: number}
  retainedCount(): number
  /** The cluster (a cluster Bus); undefined on a single node. */
  cluster?(): {node: string; connected: boolean; nodes: ReadonlyArray<{name: string; state: string}>} | undefined
}

/** Messages dropped by the broker, summed over the reasons it counts (broker metrics). */
export function droppedMessages(m: BrokerMetrics): number {
  return m.queueDropped + m.slowConsumerDropped + m.tooLargeDropped + m.expired + m.retainedDropped
}

interface Load {
  value: number
  last: number
}

/** Publishes the $SYS tree on a timer. */
export class SysTree {
  private timer: NodeJS.Timeout | undefined
  private readonly published = new Map<string, string>()
  private readonly loads = new Map<string, Load>()
  private lastTick = 0
  private readonly startedAt = Date.now()

  constructor(
    private readonly source: SysSource,
    /** Publishes one retained $SYS message from the broker (no client). */
    private readonly publish: (topic: string, payload: string) => void,
    private readonly intervalSeconds: number,
    private readonly version: string,
  ) {}

  /** Starts the timer (nothing when the interval is 0); the first figures are published at once. */
  start(): void {
    if (this.intervalSeconds <= 0 || this.timer !== undefined) return
    this.lastTick = Date.now()
    this.tick()
    this.timer = setInterval(tickSys, this.intervalSeconds * 1000, this)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Reads the counters and publishes what changed. */
  tick(now = Date.now()): void {
    // One reading of the listeners (it visits every open socket), for the totals and the per-listener topics.
    const statuses = this.source.listenerStatuses()
    const t = this.source.totals(statuses)
    const subs = this.source.subscriptionCount()
    const dropped = droppedMessages(t.metrics)
    const dt = (now - this.lastTick) / 1000
    this.lastTick = now
    const b = '$SYS/broker/'
    const put = (topic: string, value: string | number): void => this.put(b + topic, String(value))
    put('version', `mqttws version ${this.version}`)
    put('uptime', `${Math.floor((now - this.startedAt) / 1000)} seconds`)
    put('clients/connected', t.clients)
    put('clients/active', t.clients)
    put('clients/disconnected', t.sessions - t.clients)
    put('clients/inactive', t.sessions - t.clients)
    put('clients/total', t.sessions)
    put('clients/maximum', t.connections.peak)
    put('messages/received', t.packets.in)
    put('messages/sent', t.packets.out)
    put('publish/messages/received', t.messages.published)
    put('publish/messages/sent', t.messages.delivered)
    put('publish/messages/dropped', dropped)
    put('bytes/received', t.bytes.in)
    put('bytes/sent', t.bytes.out)
    put('subscriptions/count', subs.total)
    put('shared_subscriptions/count', subs.shared)
    put('retained messages/count', this.source.retainedCount())
    put('connections/socket/count', t.connections.current)
    const loads: Array<[string, number]> = [
      ['messages/received', t.packets.in],
      ['messages/sent', t.packets.out],
      ['publish/received', t.messages.published],
      ['publish/sent', t.messages.delivered],
      ['publish/dropped', dropped],
      ['bytes/received', t.bytes.in],
      ['bytes/sent', t.bytes.out],
      ['connections', t.connections.accepted],
    ]
    for (const [name, total] of loads) {
      for (const [label, minutes] of [['1min', 1], ['5min', 5], ['15min', 15]] as const) {
        put(`load/${name}/${label}`, this.load(`${name}/${label}`, total, minutes, dt).toFixed(2))
      }
    }
    const cluster = this.source.cluster?.()
    if (cluster !== undefined) {
      put('cluster/node', cluster.node)
      put('cluster/connected', cluster.connected ? 1 : 0)
      put('cluster/nodes/up', cluster.nodes.filter((n) => n.state === 'up').length)
      for (const n of cluster.nodes) put(`cluster/nodes/${n.name}/state`, n.state)
    }
    // The durable store: $SYS/broker/store/bytes, …/sessions, …/queued, …/inflight, …/retained, …/failedCommits.
    if (t.store !== undefined) for (const [k, v] of Object.entries(t.store)) if (typeof v === 'number') put(`store/${k}`, v)
    for (const l of statuses) {
      const p = `listeners/${l.id}/`
      put(`${p}state`, l.state)
      put(`${p}clients/connected`, l.connections.current)
      put(`${p}messages/received`, l.packets.in)
      put(`${p}messages/sent`, l.packets.out)
      put(`${p}publish/messages/received`, l.messages.published)
      put(`${p}publish/messages/sent`, l.messages.delivered)
      put(`${p}bytes/received`, l.bytes.in)
      put(`${p}bytes/sent`, l.bytes.out)
    }
  }

  /** Mosquitto's moving average: per minute, smoothed over `minutes`. */
  private load(key: string, total: number, minutes: number, dt: number): number {
    let l = this.loads.get(key)
    if (l === undefined) {
      l = {value: 0, last: total}
      this.loads.set(key, l)
      return 0
    }
    if (dt <= 0) return l.value
    const perMinute = ((total - l.last) * 60) / dt
    const e = Math.exp(-dt / (minutes * 60))
    l.value = perMinute + e * (l.value - perMinute)
    l.last = total
    return l.value
  }

  private put(topic: string, value: string): void {
    if (this.published.get(topic) === value) return
    this.published.set(topic, value)
    this.publish(topic, value)
  }
}

function tickSys(tree: SysTree): void {
  tree.tick()
}
