/**
 * Delivery: from one PUBLISH to the bytes each subscriber gets. publish() hands the
 * message to the Bus, which gives it back to deliver() for this node's subscriptions:
 * router.match() visits each subscription synchronously, collect() merges overlapping
 * ones per session, and deliverTo() sends, or queues, per session. A QoS 0 message is
 * encoded once per (protocol family, retain flag) and the same Buffer goes to every
 * subscriber — or not encoded at all: a QoS 0 PUBLISH without properties goes out as the
 * bytes it came in (Decoder.publishWire). QoS 1/2 copies one encoding and patches the
 * packet id. The outermost publish reuses one FanOut, so a publish allocates nothing.
 *
 * Flow control: a congested connection (connection.ts) gets no QoS 0 (dropped, counted),
 * and QoS 1/2 waits in its session queue, bounded by count and bytes (queue.ts): one slow
 * consumer never makes the broker buffer without bound or wait for it.
 */
import type {Limits, SharedStrategy} from '../config.js'
import type {QoS} from '../protocol/codec.js'
import {PacketType, encodeAck, encodePublish, withPacketId} from '../protocol/encode.js'
import type {ReadGate} from './auth.js'
import type {Bus, BusNode} from './bus.js'
import type {ClientConnection} from './connection.js'
import type {Message} from './message.js'
import {isExpired} from './message.js'
import type {BrokerMetrics} from './metrics.js'
import type {RetainedStore} from './retained-store.js'
import type {Session} from './session.js'
import type {OutboundAliases} from './topic-aliases.js'
import type {Inflight, Queued, SubscriptionOptions} from './session-state.js'
import type {SessionStore} from './session-store.js'
import type {SharedGroup} from './shared.js'
import type {Subscriber, Subscriptions} from './subscriptions.js'
import {ConnState} from './types.js'

/** Per-PUBLISH fan-out state: the message and its encodings, shared by all subscribers. */
class FanOut {
  readonly delivery: Delivery
  message: Message = undefined as unknown as Message
  from: ClientConnection | null = null
  epoch = 0
  readonly targets: Session[] = []
  /** Subscriptions (and groups) that matched, No Local ones excepted. */
  matched = 0
  /** The inbound PUBLISH's own bytes, when subscribers of its protocol family get exactly those at QoS 0. */
  wire: Buffer | undefined = undefined
  /** Whether `wire` is MQTT 5 (with its empty property length) or 3.1/3.1.1. */
  wireV5 = false
  /** Encoded QoS 0 copies: index (v5 ? 2 : 0) + (retain ? 1 : 0). */
  readonly qos0: Array<Buffer | undefined> = [undefined, undefined, undefined, undefined]
  /** Encoded QoS 1/2 templates: index (v5 ? 4 : 0) + (qos - 1) * 2 + (retain ? 1 : 0). */
  readonly qosN: Array<Buffer | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]

  constructor(delivery: Delivery) {
    this.delivery = delivery
  }

  /** Makes the FanOut ready for the next message (no allocation per publish). */
  reset(message: Message, from: ClientConnection | null, epoch: number, wire: Buffer | undefined): this {
    this.message = message
    this.from = from
    this.epoch = epoch
    this.matched = 0
    this.wire = wire
    this.wireV5 = from !== null && from.version === 5
    const q0 = this.qos0
    q0[0] = q0[1] = q0[2] = q0[3] = undefined
    const qn = this.qosN
    qn[0] = qn[1] = qn[2] = qn[3] = qn[4] = qn[5] = qn[6] = qn[7] = undefined
    return this
  }
}

function collect(fan: FanOut, s: Subscriber, opts: SubscriptionOptions): void {
  if (s.isGroup) {
    fan.matched++
    fan.delivery.deliverShared(s, fan)
    return
  }
  if (opts.noLocal && fan.from !== null && fan.from.session === s) return
  fan.matched++
  if (s.matchEpoch !== fan.epoch) {
    s.matchEpoch = fan.epoch
    s.matchQos = opts.qos
    s.matchRetainAsPublished = opts.retainAsPublished
    s.matchSubscriptionIds = opts.subscriptionId === undefined ? undefined : [opts.subscriptionId]
    fan.targets.push(s)
    return
  }
  // Overlapping subscriptions: one delivery at the highest QoS, with every subscription id (MQTT-3.3.4-2/3).
  if (opts.qos > s.matchQos) s.matchQos = opts.qos
  if (opts.retainAsPublished) s.matchRetainAsPublished = true
  if (opts.subscriptionId !== undefined) (s.matchSubscriptionIds ??= []).push(opts.subscriptionId)
}

export function isOnline(session: Session): boolean {
  return session.client !== undefined && session.client.state === ConnState.Connected
}

export interface DeliveryDeps {
  limits: Readonly<Limits>
  sharedStrategy: SharedStrategy
  metrics: BrokerMetrics
  store: SessionStore
  retained: RetainedStore
  subscriptions: Subscriptions
  bus: Bus
}

export class Delivery implements BusNode {
  private readonly limits: Readonly<Limits>
  private readonly strategy: SharedStrategy
  private readonly metrics: BrokerMetrics
  private readonly store: SessionStore
  private readonly retained: RetainedStore
  private readonly subscriptions: Subscriptions
  private readonly bus: Bus
  private epoch = 0
  /** The FanOut of the outermost publish (a Will or retained message published during delivery nests). */
  private readonly outerFan: FanOut
  private fanDepth = 0
  /**
   * Authorization's read check, asked on every delivery to a connected client (a message for
   * an offline session is checked when it leaves the queue); undefined: nothing to check.
   */
  readGate: ReadGate | undefined = undefined
  /** Set by the session lifecycle: a client id another node took over. */
  onTakeOver: (clientId: string, by: string) => void = () => {}

  constructor(deps: DeliveryDeps) {
    this.limits = deps.limits
    this.strategy = deps.sharedStrategy
    this.metrics = deps.metrics
    this.store = deps.store
    this.retained = deps.retained
    this.subscriptions = deps.subscriptions
    this.bus = deps.bus
    this.outerFan = new FanOut(this)
  }

  /**
   * Publishes one application message to the namespace: retained slot, then the Bus.
   * Synchronous. Returns how many subscriptions on this node matched.
   */
  publish(message: Message, from: ClientConnection | null, wire?: Buffer): number {
    if (from !== null) {
      from.stats.messagesIn++
      from.messagesIn++
    }
    if (message.retain && this.limits.retainAvailable) this.retain(message, from)
    return this.bus.publish(message, from, wire)
  }

  /** Keeps a retained message, within the retained limits (past them it is delivered, not kept). */
  private retain(message: Message, from: ClientConnection | null): void {
    const size = message.payload.length
    const {maxRetainedMessages: maxCount, maxRetainedPayload: maxBytes} = this.limits
    if (size > 0 && ((maxBytes > 0 && size > maxBytes) || (maxCount > 0 && (this.retained.storedSize ?? this.retained.size) >= maxCount && !this.retained.has(message.topic)))) {
      this.metrics.retainedDropped++
      return
    }
    // Only retained messages are stamped (the admin API and dashboard show them): no cost per publish.
    message.storedAt = Date.now()
    if (from !== null) message.publisher = from.clientId
    this.retained.set(message)
  }

  /** BusNode: routes one message to every matching subscription here (each shared group: one member). */
  deliver(message: Message, from: ClientConnection | null, wire: Buffer | undefined): number {
    const outer = this.fanDepth++ === 0
    const fan = outer ? this.outerFan : new FanOut(this)
    fan.reset(message, from, ++this.epoch, wire)
    const targets = fan.targets
    try {
      this.subscriptions.router.match(message.topic, collect, fan)
      for (let i = 0; i < targets.length; i++) {
        const s = targets[i]
        const qos = (message.qos < s.matchQos ? message.qos : s.matchQos) as QoS
        this.deliverTo(s, message, qos, s.matchRetainAsPublished && message.retain, s.matchSubscriptionIds, fan)
      }
    } finally {
      targets.length = 0
      this.fanDepth--
    }
    if (fan.matched === 0) this.metrics.noSubscribers++
    return fan.matched
  }

  /** BusNode: another node took this client id. */
  takeOver(clientId: string, by: string): void {
    this.onTakeOver(clientId, by)
  }

  /** One message for a shared subscription group: to one member, under that member's options. */
  deliverShared(group: SharedGroup, fan: FanOut): void {
    const member = group.pick(this.strategy)
    if (member !== undefined) this.handOver(member, group, fan.message, fan)
  }

  /** BusNode: one message of a shared group, for one member here (a cluster Bus picked this node). */
  deliverToGroup(key: string, message: Message): void {
    const group = this.subscriptions.groups.get(key)
    const member = group?.pick(this.strategy)
    if (member !== undefined) this.handOver(member, group!, message)
  }

  handOver(member: Session, group: SharedGroup, message: Message, fan?: FanOut): void {
    const o = group.options.get(member)!
    const qos = (message.qos < o.qos ? message.qos : o.qos) as QoS
    const ids = o.subscriptionId === undefined ? undefined : [o.subscriptionId]
    this.deliverTo(member, message, qos, o.retainAsPublished && message.retain, ids, fan, group.key)
  }

  /** Sends (or queues) one message to one session at the given QoS. */
  deliverTo(session: Session, message: Message, qos: QoS, retain: boolean, subscriptionIds: number[] | undefined, fan?: FanOut, group?: string): void {
    const client = session.client
    const online = client !== undefined && client.state === ConnState.Connected
    if (online && this.readGate !== undefined && !this.readGate.mayRead(client.principal!, message.topic)) {
      client.stats.deniedDelivery++
      return
    }
    if (qos === 0) {
      if (!online) return // QoS 0 is not queued for offline sessions
      if (client.congested) {
        this.metrics.slowConsumerDropped++
        return
      }
      const buf = this.encodeQos0(client, message, retain, subscriptionIds, fan)
      if (buf.length > client.maxOutgoingPacketSize) {
        this.metrics.tooLargeDropped++
        return
      }
      client.stats.messagesOut++
      client.messagesOut++
      client.send(buf)
      return
    }
    if (online && !client.congested && session.queuedCount === 0 && session.inflightCount < client.inflightMax) {
      this.sendOutgoing(client, session, {message, qos, retain, subscriptionIds, group, packetId: 0, stage: 'publish'}, fan)
    } else {
      this.enqueue(session, {message, qos, retain, subscriptionIds, group})
    }
  }

  enqueue(session: Session, item: Queued): void {
    const dropped = this.store.enqueue(session.state, item, this.limits)
    if (dropped > 0) this.metrics.queueDropped += dropped
  }

  /** Moves queued messages into the inflight window while there is room and the socket keeps up. */
  drainQueue(client: ClientConnection): void {
    const session = client.session
    if (session === undefined || session.queuedCount === 0) return
    const now = Date.now()
    const state = session.state
    while (session.queuedCount > 0 && session.inflightCount < client.inflightMax && client.state === ConnState.Connected && !client.congested) {
      const q = this.store.dequeue(state)!
      if (isExpired(q.message, now)) {
        this.metrics.expired++
        continue
      }
      // Rules may have changed, or the client come back as someone else, since it was queued.
      if (this.readGate !== undefined && !this.readGate.mayRead(client.principal!, q.message.topic)) {
        client.stats.deniedDelivery++
        continue
      }
      // `seq` lets a durable store turn the queued row into the in-flight one.
      this.sendOutgoing(client, session, {message: q.message, qos: q.qos, retain: q.retain, subscriptionIds: q.subscriptionIds, group: q.group, seq: q.seq, packetId: 0, stage: 'publish'})
    }
  }

  /** After CONNACK on a resumed session: resend what was unacknowledged (DUP, or PUBREL once released), then the queue. */
  resume(client: ClientConnection): void {
    const session = client.session!
    if (session.inflightCount > 0) this.resendInflight(client, session)
    this.drainQueue(client)
  }

  private resendInflight(client: ClientConnection, session: Session): void {
    for (const [id, entry] of session.state.inflight!) {
      if (entry.stage === 'pubrel') {
        client.send(encodeAck(PacketType.PUBREL, entry.packetId, client.version))
        continue
      }
      const buf = this.encodeOutgoing(client, entry, true)
      if (buf.length > client.maxOutgoingPacketSize) {
        // MQTT-3.1.2-25: too large for this client now; handled as if delivered.
        this.store.inflightAck(session.state, id)
        this.metrics.tooLargeDropped++
        continue
      }
      client.send(buf)
    }
  }

  private sendOutgoing(client: ClientConnection, session: Session, entry: Inflight, fan?: FanOut): void {
    const id = session.nextPacketId()
    entry.packetId = id
    let buf: Buffer
    if (fan !== undefined && entry.subscriptionIds === undefined && client.outAliases === undefined) {
      const idx = (client.version === 5 ? 4 : 0) + (entry.qos - 1) * 2 + (entry.retain ? 1 : 0)
      const template = fan.qosN[idx]
      if (template === undefined) {
        buf = this.encodeOutgoing(client, entry, false)
        fan.qosN[idx] = buf
      } else {
        buf = template.length > client.maxOutgoingPacketSize ? template : withPacketId(template, id)
      }
    } else {
      buf = this.encodeOutgoing(client, entry, false)
    }
    if (buf.length > client.maxOutgoingPacketSize) {
      // MQTT-3.1.2-25: never more than the client's Maximum Packet Size; handled as if delivered.
      this.metrics.tooLargeDropped++
      return
    }
    this.store.inflightPut(session.state, entry)
    client.stats.messagesOut++
    client.messagesOut++
    client.send(buf)
  }

  private encodeOutgoing(client: ClientConnection, entry: Inflight, dup: boolean): Buffer {
    const m = entry.message
    if (client.outAliases !== undefined) return encodeAliased(client, client.outAliases, m, entry.qos, entry.retain, dup, entry.packetId, entry.subscriptionIds)
    return encodePublish(client.version, m.topic, m.payload as Buffer, entry.qos, entry.retain, dup, entry.packetId, outProperties(client, m, entry.subscriptionIds))
  }

  private encodeQos0(client: ClientConnection, message: Message, retain: boolean, subscriptionIds: number[] | undefined, fan?: FanOut): Buffer {
    if (client.outAliases !== undefined) return encodeAliased(client, client.outAliases, message, 0, retain, false, 0, subscriptionIds)
    if (fan === undefined || (subscriptionIds !== undefined && client.version === 5)) {
      return encodePublish(client.version, message.topic, message.payload as Buffer, 0, retain, false, 0, outProperties(client, message, subscriptionIds))
    }
    const idx = (client.version === 5 ? 2 : 0) + (retain ? 1 : 0)
    let buf = fan.qos0[idx]
    if (buf === undefined) {
      // Forward the bytes as received where they are what this client gets: no encoding, no copy.
      const wire = fan.wire
      if (wire !== undefined && !retain && (client.version === 5) === fan.wireV5) return (fan.qos0[idx] = wire)
      buf = encodePublish(client.version, message.topic, message.payload as Buffer, 0, retain, false, 0, outProperties(client, message, undefined))
      fan.qos0[idx] = buf
    }
    return buf
  }
}

type Props = NonNullable<Message['properties']>

/**
 * A PUBLISH for a client that takes topic aliases: encoded for it alone (its aliases are its
 * own), with the topic left out once the client knows the alias. An encoding too large to send
 * never told the client the alias, so it is forgotten again.
 */
function encodeAliased(client: ClientConnection, aliases: OutboundAliases, m: Message, qos: QoS, retain: boolean, dup: boolean, packetId: number, subscriptionIds: number[] | undefined): Buffer {
  const {alias, known} = aliases.aliasFor(m.topic)
  const buf = encodePublish(5, known ? '' : m.topic, m.payload as Buffer, qos, retain, dup, packetId, {...outProperties(client, m, subscriptionIds), topicAlias: alias})
  if (!known && buf.length > client.maxOutgoingPacketSize) aliases.forget(m.topic)
  return buf
}

/**
 * PUBLISH properties for one receiver: MQTT 5 only, with its subscription ids, and the
 * Message Expiry Interval lowered to the time left (MQTT-3.3.2-6).
 */
function outProperties(client: ClientConnection, message: Message, subscriptionIds: number[] | undefined): Props | undefined {
  if (client.version !== 5) return undefined
  let p = message.properties
  if (message.expiresAt !== undefined && p?.messageExpiryInterval !== undefined) {
    const left = Math.max(0, Math.ceil((message.expiresAt - Date.now()) / 1000))
    if (left < p.messageExpiryInterval) p = {...p, messageExpiryInterval: left}
  }
  if (subscriptionIds === undefined) return p
  return {...p, subscriptionIdentifier: subscriptionIds.length === 1 ? subscriptionIds[0] : (subscriptionIds as unknown as number)}
}
