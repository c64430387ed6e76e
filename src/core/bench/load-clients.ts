/**
 * Opens the bench's publishers and subscribers. They run on bare WireConns (wire/) —
 * pre-built frames out, offsets-only parsing in — except with --ws-deflate, where
 * compression needs the full client (MqttClient over ws) and its per-message cost.
 */
import type {MqttClient} from '../client/client.js'
import {connectAll} from './connect.js'
import type {BenchAccess} from './connect.js'
import type {BenchPlan} from './plan.js'
import {SUBSCRIBER_URL_OFFSET, topicFor, urlFor} from './plan.js'
import {Publisher} from './publisher.js'
import type {PublisherCounters} from './publisher.js'
import {BatchPublisher} from './wire/batch-publisher.js'
import {StampSubscriber} from './wire/stamp-subscriber.js'
import type {Receiver} from './wire/stamp-subscriber.js'
import {WireConn} from './wire/wire-conn.js'

/** What the pools need of a publisher, whichever client it runs on. */
export interface LoadPublisher {
  readonly seq: number
  readonly outstanding: number
  start(): void
  stop(): void
  /** Still connected. */
  live(): boolean
}

/** Connections of one kind, with their byte counters. */
export interface ConnectionSet {
  bytesWritten(): number
  bytesRead(): number
  /** A WebSocket extension the broker accepted on any of them (e.g. permessage-deflate). */
  extensions(): string | undefined
  /** Subscribers: wire bytes the broker's topic aliases saved (net of announcing them), over all connections. */
  aliasBytesSaved?(): number
  close(): Promise<void>
}

type Conn = MqttClient | WireConn

function connectionSet(conns: Conn[]): ConnectionSet {
  return {
    bytesWritten: () => conns.reduce((a, c) => a + c.bytesWritten, 0),
    bytesRead: () => conns.reduce((a, c) => a + c.bytesRead, 0),
    extensions: () => conns.map((c) => ('wsExtensions' in c ? c.wsExtensions : undefined)).find((e) => e !== undefined),
    close: async () => {
      await Promise.all(conns.map((c) => c.end()))
    },
  }
}

/** Opens n WireConns, 50 handshakes at a time; on any failure closes those already open. Connection k goes to urlFor(url, first + k). */
async function openWire(n: number, url: string, plan: BenchPlan, access: BenchAccess, prefix: string, sessionExpiry = 0, first = 0, topicAliasMaximum = 0): Promise<WireConn[]> {
  const conns: WireConn[] = []
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({length: Math.min(50, n - i)}, (_, j) =>
        WireConn.open({url: urlFor(url, first + i + j), clientId: `${prefix}-${process.pid}-${i + j}`, protocolVersion: plan.protocolVersion, tls: access.tls, username: access.username, password: access.password, sessionExpiry, topicAliasMaximum}),
      )
      const settled = await Promise.allSettled(batch)
      for (const s of settled) if (s.status === 'fulfilled') conns.push(s.value)
      const failed = settled.find((s) => s.status === 'rejected')
      if (failed) throw (failed as PromiseRejectedResult).reason
    }
  } catch (error) {
    await Promise.all(conns.map((c) => c.end()))
    throw error
  }
  return conns
}

/** Publishers first..first+count-1 of the plan. */
export async function openPublishers(
  plan: BenchPlan,
  url: string,
  access: BenchAccess,
  first: number,
  count: number,
  counters: PublisherCounters,
  prefix: string,
): Promise<{publishers: LoadPublisher[]; connections: ConnectionSet}> {
  if (plan.wsDeflate) {
    const clients = await connectAll(count, url, plan, access, prefix, first)
    return {publishers: clients.map((c, j) => new Publisher(c, first + j, topicFor(plan.topic, first + j, c.clientId), plan, counters)), connections: connectionSet(clients)}
  }
  const conns = await openWire(count, url, plan, access, prefix, 0, first)
  const publishers = conns.map((c, j) => new BatchPublisher(c, first + j, topicFor(plan.topic, first + j, c.options.clientId), plan, counters))
  return {publishers, connections: connectionSet(conns)}
}

/** n subscribers to `filter`, each delivering into the receiver made for it. */
export async function openSubscribers(
  plan: BenchPlan,
  url: string,
  access: BenchAccess,
  n: number,
  filter: string,
  receiverFor: (i: number) => Receiver,
  prefix = 'bench-sub',
  /** The run-wide index of the first of these subscribers (a worker's share), for spreading them over several -L URLs. */
  first = 0,
): Promise<ConnectionSet> {
  const describe = (code: number): Error => new Error(`the broker refused the subscription to ${filter} (0x${code.toString(16)})`)
  if (plan.wsDeflate) {
    const clients = await connectAll(n, url, plan, access, prefix, SUBSCRIBER_URL_OFFSET + first)
    const set = connectionSet(clients)
    try {
      for (const [i, c] of clients.entries()) {
        const codes = await c.subscribe([{topic: filter, qos: plan.qos}])
        if (codes[0] >= 0x80) throw describe(codes[0])
        const r = receiverFor(i)
        c.on('message', (p) => r.deliver(p.payload as Buffer, 0, (p.payload as Buffer).length, Number(process.hrtime.bigint())))
      }
    } catch (error) {
      await set.close()
      throw error
    }
    return set
  }
  const conns = await openWire(n, url, plan, access, prefix, plan.sessionExpiry, SUBSCRIBER_URL_OFFSET + first, plan.topicAliasMax)
  const handlers: StampSubscriber[] = []
  const set: ConnectionSet = {...connectionSet(conns), aliasBytesSaved: () => handlers.reduce((a, h) => a + h.aliasBytesSaved, 0)}
  try {
    for (const [i, c] of conns.entries()) {
      await c.subscribe(filter, plan.qos)
      const h = new StampSubscriber(c, plan.protocolVersion, receiverFor(i), plan.topicAliasMax > 0)
      handlers.push(h)
      c.handler = h
    }
  } catch (error) {
    await set.close()
    throw error
  }
  return set
}
