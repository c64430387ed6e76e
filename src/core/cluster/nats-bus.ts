/**
 * The cluster Bus on NATS: several broker nodes share one namespace (docs/architecture.md,
 * "Cluster"). Local delivery is a direct call, as the LocalBus's; each message goes once to
 * NATS on its topic's subject (subjects.ts, envelope.ts), from a connection without echo.
 * This node subscribes by interest (local-interest.ts: its filters, and its shared groups as
 * NATS queue groups on a second connection, deliverToGroup); copies from overlapping
 * subscriptions are dropped by origin and sequence (NATS keeps a publisher's order).
 * QoS 1/2 goes to the messages stream and the turn waits for its answers (acks.ts); a turn
 * that changed interest waits for a NATS flush, so its SUBACK means subscribed cluster-wide
 * (commit()). Claims (claims.ts), heartbeats and the node table (heartbeats.ts, nodes.ts),
 * retained (retained.ts), Wills of dead nodes (wills.ts) and sessions (sessions.ts,
 * handover.ts) ride along.
 */
import {randomBytes} from 'node:crypto'
import {hostname} from 'node:os'
import type {Msg, NatsConnection} from '@nats-io/transport-node'
import type {Bus, BusDescription, BusNode, SessionHost} from '../broker/bus.js'
import type {SessionStore} from '../broker/session-store.js'
import type {ClientConnection} from '../broker/connection.js'
import type {Message} from '../broker/message.js'
import type {RetainedStore} from '../broker/retained-store.js'
import type {Logger} from '../logger.js'
import type {ClusterConfig} from './config.js'
import {decodeEnvelope, encodeEnvelope} from './envelope.js'
import type {EnvelopeMeta} from './envelope.js'
import {NodeTable} from './nodes.js'
import type {NodeInfo} from './nodes.js'
import {AckTracker} from './acks.js'
import {jetStreamStep, openConnections, watchStatus} from './connect.js'
import {Claims} from './claims.js'
import type {Claim} from './claims.js'
import {ClusterRetained} from './retained.js'
import {RemoteInterest} from './remote-interest.js'
import {CorePublisher} from './fast-publish.js'
import type {InterestStats} from './remote-interest.js'
import {ensureMessageStream, followRetained} from './streams.js'
import type {Follower} from './streams.js'
import {SubjectMap} from './subjects.js'
import type {ClusterStats, NatsConnect} from './types.js'
import {ClusterWills} from './wills.js'
import {ClusterSessionStore} from './sessions.js'
import {startHandover} from './handover.js'
import type {Handover, ReplayGuard} from './handover.js'
import {Heartbeats} from './heartbeats.js'
import {LocalInterest} from './local-interest.js'

export type {ClusterStats, NatsConnect} from './types.js'

export class NatsBus implements Bus {
  readonly config: ClusterConfig
  /** This node's name (config or host name and pid). */
  readonly name: string
  /** This run of the node: its name and a random suffix (a restarted node is a new instance). */
  readonly instance: string
  readonly map: SubjectMap
  readonly stats: ClusterStats = {published: 0, keptLocal: 0, received: 0, duplicates: 0, malformed: 0, publishErrors: 0, retainedLocalOnly: 0, takenOver: 0, willsPublished: 0}
  readonly nodes: NodeTable
  private readonly log: Logger
  private readonly connect: NatsConnect
  private readonly origin: Buffer
  private node: BusNode | undefined
  private nc: NatsConnection | undefined
  private qc: NatsConnection | undefined
  /** QoS 0 messages to core NATS, one buffer each (fast-publish.ts). */
  private core: CorePublisher | undefined
  private seq = 0
  /** This node's filters and shared groups as NATS subscriptions. */
  private readonly local: LocalInterest
  private readonly heartbeats: Heartbeats
  private readonly lastSeq = new Map<string, number>()
  private readonly meta: EnvelopeMeta = {origin: '', seq: 0}
  private readonly claims: Claims
  private closed = false
  private lastPublishErrorLog = 0
  private readonly acks: AckTracker
  /** The main NATS connection is up (its status events say so). */
  private up = false
  private retained: ClusterRetained | undefined
  private wills: ClusterWills | undefined
  private follower: Follower | undefined
  private sessionStore: ClusterSessionStore | undefined
  private host: SessionHost | undefined
  private handover: Handover | undefined
  private readonly replayGuard: ReplayGuard = {active: 0, live: new Set()}
  private readonly onPlain = (err: Error | null, msg: Msg): void => this.receive(err, msg)
  /** What the other nodes subscribe to: a QoS 0 message goes to NATS only when one of them wants it. */
  readonly remote: RemoteInterest

  constructor(config: ClusterConfig, log: Logger, connect: NatsConnect) {
    this.config = config
    this.log = log
    this.connect = connect
    this.name = config.name ?? `${hostname()}-${process.pid}`
    this.instance = `${this.name}~${randomBytes(6).toString('base64url')}`
    this.origin = Buffer.from(this.instance, 'latin1')
    this.map = new SubjectMap(config.prefix)
    this.nodes = new NodeTable(this.name, this.instance, config.heartbeatMs)
    this.claims = new Claims(this.name, this.instance)
    this.remote = new RemoteInterest({prefix: config.prefix, name: this.name, instance: this.instance, heartbeatMs: config.heartbeatMs})
    this.acks = new AckTracker(`_INBOX.mqttws.${randomBytes(9).toString('base64url')}.`, config.ackTimeoutMs)
    this.local = new LocalInterest(this.map, config.prefix, this.remote, this.onPlain, (key, err, msg) => this.receiveShared(key, err, msg))
    const sweepWills = (up: ReadonlySet<string>): void => {
      if (this.up) this.wills?.sweep(up)
    }
    this.heartbeats = new Heartbeats(config, this.nodes, this.remote, this.stats, sweepWills, (err) => this.subscriptionError(err))
  }

  /** The bus holds a turn's acknowledgements until commit() settles (turn-flush.ts). */
  get holdsOutput(): boolean {
    return true
  }

  async start(node: BusNode): Promise<void> {
    this.node = node
    const c = this.config
    ;({nc: this.nc, qc: this.qc} = await openConnections(c, this.connect, this.instance))
    watchStatus(this.nc, 'main', this.log, (up) => {
      this.up = up
      this.remote.link(up)
      if (up) this.sessionStore?.resume()
    })
    watchStatus(this.qc, 'shared', this.log)
    this.core = new CorePublisher(this.nc, this.map, this.origin)
    const nc = this.nc
    this.up = true
    nc.subscribe(`${this.acks.inbox}*`, {callback: (err, msg) => (err === null ? this.acks.onReply(msg) : this.subscriptionError(err))})
    await jetStreamStep(c, 'the messages stream', () => ensureMessageStream(nc, this.map, c.replicas, c.maxAgeSeconds))
    nc.subscribe(this.map.long, {callback: this.onPlain})
    // Interest known before the connection (sessions restored from a store).
    this.local.attach(nc, this.qc)
    nc.subscribe(`${c.prefix}.ctl.claim`, {callback: (err, msg) => this.onClaim(err, msg)})
    this.heartbeats.listen(nc)
    this.remote.attach(nc)
    if (this.retained !== undefined) {
      const retained = this.retained
      this.follower = await jetStreamStep(c, 'the retained stream', () => followRetained(nc, this.map, c.replicas, (m) => retained.apply(m), this.log))
    }
    this.wills = new ClusterWills(await jetStreamStep(c, 'the wills bucket', () => ClusterWills.open(nc, c.prefix, c.replicas)), this.instance, this.log, (m) => this.publishWill(m))
    if (this.sessionStore !== undefined && this.host !== undefined) this.handover = await jetStreamStep(c, 'the sessions bucket', () => this.startSessions(nc))
    this.heartbeats.start()
    await nc.flush()
    this.log.info('cluster joined', {node: this.name, instance: this.instance, servers: c.servers.join(','), prefix: c.prefix})
  }

  /** Sessions move between nodes (handover.ts): the sessions bucket, this node's answers, the store asking the cluster. */
  private startSessions(nc: NatsConnection): Promise<Handover> {
    const {heartbeatMs, replicas} = this.config
    const deps = {nc, store: this.sessionStore!, host: this.host!, map: this.map, instance: this.instance, name: this.name, timeoutMs: 2000, heartbeatMs, log: this.log, guard: this.replayGuard}
    return startHandover({...deps, ownSeq: () => this.seq, lastSeen: (i: string) => this.nodes.heardAt(i, Date.now())}, replicas, () => this.up && !this.closed)
  }

  /** Sessions are kept cluster-wide (sessions.ts) around the node's own store. */
  wrapSessions(store: SessionStore): SessionStore {
    this.sessionStore = new ClusterSessionStore(store, this.instance, this.name, this.log)
    return this.sessionStore
  }

  hostSessions(host: SessionHost): void {
    this.host = host
  }

  publish(message: Message, from: ClientConnection | null, wire: Buffer | undefined): number {
    const matched = this.node === undefined ? 0 : this.node.deliver(message, from, wire)
    const nc = this.nc
    if (nc === undefined || this.closed) return matched
    // QoS 1/2 is always stored in the cluster (the messages stream: what a PUBACK means); QoS 0 goes only where it is wanted.
    const wanted = this.remote.wants(message.topic)
    if (message.qos > 0) this.send(message, true)
    else if (wanted) this.send(message, false)
    else this.stats.keptLocal++
    return wanted ? matched + 1 : matched
  }

  /** One message to NATS: QoS 1/2 (durable) to the messages stream, its answer awaited by the turn. */
  private send(message: Message, durable: boolean): void {
    if (!durable) {
      try {
        this.core!.publish(message, ++this.seq, Date.now())
        this.stats.published++
      } catch (error) {
        this.publishFailed(error)
      }
      return
    }
    const nc = this.nc!
    if (durable && !this.up) {
      // QoS 1/2 while NATS is unreachable: refused (PUBACK 0x80), not acknowledged and lost; delivered here.
      this.acks.fail('NATS is unreachable')
      return
    }
    const subject = this.map.topicSubject(message.topic, durable)
    const data = encodeEnvelope(message, this.origin, ++this.seq, subject === this.map.long, Date.now())
    try {
      // QoS 1/2: the messages stream stores it and answers on the reply subject (acks.ts).
      if (durable && subject !== this.map.long) nc.publish(subject, data, {reply: this.acks.reply()})
      else nc.publish(subject, data)
      this.stats.published++
    } catch (error) {
      this.publishFailed(error)
    }
  }

  /** A Will of a client of a dead node (wills.ts): delivered here and sent to the others, retained if so. */
  private publishWill(message: Message): void {
    this.node?.deliver(message, null, undefined)
    if (!this.closed) this.send(message, false)
    if (message.retain) this.retained?.set(message)
  }

  /** Optional Bus member: a client with a Will connected here (the wills bucket keeps it for the survivors). */
  holdWill(clientId: string, will: Message): void {
    this.wills?.hold(clientId, will)
  }

  /** Optional Bus member: a client's connection ended here; its Will is this node's business. */
  dropWill(clientId: string): void {
    this.claims.release(clientId)
    this.wills?.drop(clientId)
  }

  /** Retained messages are shared through the retained stream (retained.ts, streams.ts). */
  wrapRetained(store: RetainedStore): RetainedStore {
    this.retained = new ClusterRetained(store, (m) => this.shareRetained(m))
    return this.retained
  }

  private shareRetained(message: Message): void {
    const subject = this.map.retainedSubject(message.topic)
    if (subject === undefined) {
      this.stats.retainedLocalOnly++
      return
    }
    const nc = this.nc
    if (nc === undefined || this.closed) return
    try {
      nc.publish(subject, encodeEnvelope(message, this.origin, 0, false, Date.now()))
    } catch (error) {
      this.publishFailed(error)
    }
  }

  private publishFailed(error: unknown): void {
    this.stats.publishErrors++
    const now = Date.now()
    if (now - this.lastPublishErrorLog >= 1000) {
      this.lastPublishErrorLog = now
      this.log.error('cluster: a message could not be sent to NATS (delivered on this node only)', {error: (error as Error).message, failures: this.stats.publishErrors})
    }
  }

  private receive(err: Error | null, msg: Msg): void {
    if (err !== null) return this.subscriptionError(err)
    this.stats.received++
    const subject = msg.subject
    const topic = subject === this.map.long ? undefined : this.map.cachedTopic(subject)
    const meta = this.meta
    const message = decodeEnvelope(msg.data, topic, meta, Date.now())
    if (message === undefined) {
      this.stats.malformed++
      return
    }
    // One message, several overlapping subscriptions of this node: deliver the first copy only.
    const last = this.lastSeq.get(meta.origin)
    if (last !== undefined && meta.seq <= last) {
      this.stats.duplicates++
      return
    }
    this.lastSeq.set(meta.origin, meta.seq)
    if (this.replayGuard.active !== 0) this.replayGuard.live.add(`${meta.origin} ${meta.seq}`)
    this.node?.deliver(message, null, undefined)
  }

  private subscriptionError(err: Error): void {
    this.log.error('cluster: NATS subscription error', {error: err.message})
  }

  addInterest(filter: string): void {
    this.local.add(filter)
  }

  removeInterest(filter: string): void {
    this.local.remove(filter)
  }

  /** A shared group with members here: this node joins the NATS queue group of its filter. */
  addShared(key: string, filter: string): void {
    this.local.addShared(key, filter)
  }

  removeShared(key: string): void {
    this.local.removeShared(key)
  }

  /** Sent on the connection of the queue groups, after this node left the group (its UNSUB goes first): another node's member gets it. */
  redeliverShared(key: string, message: Message): void {
    const qc = this.qc
    if (qc === undefined || this.closed) return
    try {
      qc.publish(this.local.redeliverySubject(key), encodeEnvelope(message, this.origin, 0, true, Date.now()))
    } catch (error) {
      this.publishFailed(error)
    }
  }

  private receiveShared(key: string, err: Error | null, msg: Msg): void {
    if (err !== null) return this.subscriptionError(err)
    this.stats.received++
    const message = decodeEnvelope(msg.data, this.map.cachedTopic(msg.subject), this.meta, Date.now())
    if (message === undefined) {
      this.stats.malformed++
      return
    }
    this.node?.deliverToGroup?.(key, message)
  }

  /**
   * The end of a turn (turn-flush.ts): when this turn changed the interest, resolves once
   * the NATS server has it (a PING/PONG), so its SUBACKs mean "subscribed cluster-wide".
   * Undefined when there is nothing to wait for.
   */
  commit(): Promise<void> | undefined {
    const stored = both(this.acks.commit(), this.remote.commit())
    if (!this.local.takeDirty()) return stored
    const nc = this.nc
    if (nc === undefined || this.closed || nc.isClosed() || !this.up) return stored
    // NATS down meanwhile: the SUBACK need not wait for it (the client resubscribes when it is back).
    const known = Promise.all([nc.flush(), this.qc!.flush()]).then(noop, noop)
    return stored === undefined ? known : Promise.all([stored, known]).then(noop)
  }

  claim(clientId: string, cleanStart = false): void {
    const c = this.claims.make(clientId, Date.now())
    this.sessionStore?.claimed(clientId, cleanStart)
    if (cleanStart) c.clean = true
    const nc = this.nc
    if (nc === undefined || this.closed) return
    try {
      nc.publish(`${this.config.prefix}.ctl.claim`, JSON.stringify(c))
    } catch (error) {
      this.publishFailed(error)
    }
  }

  private onClaim(err: Error | null, msg: Msg): void {
    if (err !== null) return this.subscriptionError(err)
    let c: Claim
    try {
      c = msg.json<Claim>()
    } catch {
      this.stats.malformed++
      return
    }
    if (this.claims.yields(c) && this.node !== undefined) {
      this.stats.takenOver++
      this.node.takeOver(c.id, `node ${c.by}`)
    }
    if (c.clean === true && c.instance !== this.instance) this.handover?.ended(c.id, c.by)
  }

  /** Whether the NATS connection is up now. */
  get connected(): boolean {
    return this.up && !this.closed
  }

  /** The cluster's nodes as this node knows them (itself first). */
  describe(): BusDescription & {instance: string; servers: readonly string[]; server: string | undefined; nodes: Array<NodeInfo & {state: string; lastSeenMs: number}>; stats: ClusterStats; interest: InterestStats} {
    const server = this.connected ? this.nc?.getServer() : undefined
    const nodes = this.nodes.list(Date.now()).map((n) => (n.self ? {...n, published: this.stats.published, received: this.stats.received} : n))
    return {node: this.name, instance: this.instance, connected: this.connected, servers: this.config.servers, server, nodes, stats: {...this.stats, willsPublished: this.wills?.published ?? 0, ...this.handover?.stats}, interest: this.remote.stats()}
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.local.close()
    this.heartbeats.close()
    this.remote.close()
    this.follower?.stop()
    this.acks.close()
    this.handover?.close()
    await this.wills?.close()
    const conns = [this.nc, this.qc].filter((c): c is NatsConnection => c !== undefined)
    await Promise.all(conns.map((c) => c.drain().catch(() => c.close())))
    this.node = undefined
  }
}

function noop(): void {}

/** One promise for two that may be undefined (nothing to wait for). */
function both(a: Promise<void> | undefined, b: Promise<void> | undefined): Promise<void> | undefined {
  return a === undefined ? b : b === undefined ? a : Promise.all([a, b]).then(noop)
}
