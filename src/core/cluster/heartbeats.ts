/**
 * The heartbeats on `PREFIX.ctl.hb`: every interval this node announces itself (nodes.ts:
 * name, instance, start, its NATS counters) and reads the others' into its NodeTable. At each
 * beat it looks at the table: when a node went down, came back as a new instance, or three
 * intervals after this node started, the Wills of the instances not up are swept (wills.ts);
 * and the other nodes' filters follow the table (remote-interest.ts).
 */
import type {Msg, NatsConnection} from '@nats-io/transport-node'
import type {NodeInfo, NodeTable} from './nodes.js'
import type {RemoteInterest} from './remote-interest.js'
import type {ClusterStats} from './types.js'

export interface HeartbeatOptions {
  prefix: string
  heartbeatMs: number
}

export class Heartbeats {
  private nc: NatsConnection | undefined
  private timer: NodeJS.Timeout | undefined
  /** Instances already seen down (their Wills swept). */
  private readonly gone = new Set<string>()
  private sweptAtStart = false
  private closed = false

  /**
   * @param stats this node's counters: sent in each heartbeat; a heartbeat that cannot be read counts as malformed
   * @param sweepWills publishes the Wills of the instances not in `up` (the NatsBus: when NATS is up)
   */
  constructor(
    private readonly options: HeartbeatOptions,
    private readonly nodes: NodeTable,
    private readonly remote: RemoteInterest,
    private readonly stats: ClusterStats,
    private readonly sweepWills: (up: ReadonlySet<string>) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  private get subject(): string {
    return `${this.options.prefix}.ctl.hb`
  }

  /** Reads the other nodes' heartbeats from now on. */
  listen(nc: NatsConnection): void {
    this.nc = nc
    nc.subscribe(this.subject, {callback: (err, msg) => this.onHeartbeat(err, msg)})
  }

  /** Sends this node's heartbeat now and every interval. */
  start(): void {
    if (this.closed) return
    this.send()
    this.timer = setInterval(() => this.send(), this.options.heartbeatMs)
    this.timer.unref()
  }

  close(): void {
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
  }

  private send(): void {
    const nc = this.nc
    if (nc === undefined || this.closed) return
    this.checkNodes()
    try {
      nc.publish(this.subject, JSON.stringify({...this.nodes.self(), published: this.stats.published, received: this.stats.received}))
    } catch {
      // Down: the status watcher logs it.
    }
  }

  /** A node went down (or came back as a new instance), or this node has just started: sweep the Wills of those not up. */
  private checkNodes(): void {
    const now = Date.now()
    const list = this.nodes.list(now)
    let due = this.nodes.takeReplaced()
    for (const n of list) if (n.state === 'down' && !this.gone.has(n.instance)) due = (this.gone.add(n.instance), true)
    if (!this.sweptAtStart && now - this.nodes.self().startedAt >= 3 * this.options.heartbeatMs) due = this.sweptAtStart = true
    if (due) this.sweepWills(new Set(list.filter((n) => n.state === 'up').map((n) => n.instance)))
    this.remote.sync(list, now)
  }

  private onHeartbeat(err: Error | null, msg: Msg): void {
    if (err !== null) return this.onError(err)
    try {
      const info = msg.json<NodeInfo>()
      this.nodes.heard(info, Date.now())
      this.remote.heard(info, Date.now())
    } catch {
      this.stats.malformed++
    }
  }
}
