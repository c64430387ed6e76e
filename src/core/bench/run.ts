/**
 * Runs a bench plan against one broker URL per transport and returns the figures. The
 * load loops allocate no promise or closure per message: each publisher and subscriber
 * is a state object with bound methods, made once.
 */
import os from 'node:os'
import {MqttClient} from '../client/client.js'
import type {DialTls} from '../transport/dial.js'
import {encodePublish} from '../protocol/encode.js'
import type {QoS} from '../protocol/codec.js'
import {minimumWireBytes} from './overhead.js'
import type {BenchPlan, BenchTransport} from './plan.js'
import {topicFor, urlFor, urlList} from './plan.js'
import {summarize} from './result.js'
import type {BenchResult, TransportResult} from './result.js'
import {LatencyHistogram} from './latency.js'
import {LocalCounters} from './local-counters.js'
import {PACE_MS, deliveryWindow} from './publisher.js'
import {LocalPool, WorkerPool} from './publisher-pool.js'
import type {PublisherPool} from './publisher-pool.js'
import {SharedCounters} from './shared-counters.js'
import {LocalSubscribers, WorkerSubscribers} from './subscriber-pool.js'
import type {SubscriberPool} from './subscriber-pool.js'

export interface BenchTarget {
  /** Broker URL per transport the plan uses. */
  urls: Partial<Record<BenchTransport, string>>
  tls?: DialTls
  /** Credentials every client of the bench logs in with (a broker with authentication). */
  username?: string
  password?: string
  /** conn only: MQTT 5 enhanced authentication (SCRAM-SHA-256, SCRAM-SHA-512) with username and password. */
  authMethod?: string
}

export interface BenchProgress {
  transport: BenchTransport
  phase: 'connect' | 'run' | 'drain' | 'done'
  elapsed_s: number
  sent: number
  received: number
  /** Messages per second over the last interval. */
  rate: number
}

export interface BenchHooks {
  onProgress?(p: BenchProgress): void
  /** The broker's resident memory in bytes, when the caller can read it (a local broker). */
  brokerMemory?(): Promise<number | undefined>
  /** The CPU time (user + system, µs) the broker process has used so far, when the caller can read it. */
  brokerCpu?(): Promise<number | undefined>
  /** Stop early (e.g. Ctrl-C): the run ends as if its time were up. */
  signal?: AbortSignal
}

/** Bench topics without %i/%c become a wildcard level for the subscribers. */
export function subscriptionFilter(template: string): string {
  return template
    .split('/')
    .map((level) => (level.includes('%') ? '+' : level))
    .join('/')
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** One transport, one scenario (all but conn). */
async function runLoad(transport: BenchTransport, url: string, plan: BenchPlan, target: BenchTarget, hooks: BenchHooks): Promise<TransportResult> {
  const filter = subscriptionFilter(plan.topic)
  const access = {tls: target.tls, username: target.username, password: target.password}
  // -w N: the publishers on up to N threads, the subscribers on up to N others; the main thread only coordinates.
  const pubWorkers = Math.min(plan.workers, plan.publishers)
  const subWorkers = Math.min(plan.workers, plan.subscribers)
  let pool: PublisherPool
  let subs: SubscriberPool
  if (plan.workers > 1) {
    const shared = new SharedCounters({pubWorkers, subWorkers, publishers: plan.publishers, perPublisher: plan.inflight > 0})
    pool = new WorkerPool(plan, url, target, shared)
    subs = new WorkerSubscribers(plan, url, access, filter, shared)
  } else {
    const counters = new LocalCounters(plan.subscribers, deliveryWindow(plan), plan.inflight, plan.publishers)
    pool = new LocalPool(plan, url, target, counters)
    subs = new LocalSubscribers(plan, url, access, filter, counters)
  }
  const progress = (phase: BenchProgress['phase'], elapsed: number, rate: number): void =>
    hooks.onProgress?.({transport, phase, elapsed_s: elapsed, sent: pool.sent(), received: subs.received(), rate})
  progress('connect', 0, 0)
  let opened = false
  try {
    if (plan.subscribers > 0) await subs.open()
    opened = true
    await pool.connect()
    // Byte counters start after connect and subscribe: only the messages count.
    subs.start()
    const t0 = process.hrtime.bigint()
    const elapsed = (): number => Number(process.hrtime.bigint() - t0) / 1e9
    pool.start()
    const series: TransportResult['series'] = []
    let last = {sent: 0, received: 0}
    let lastT = 0
    const sample = (): void => {
      const t = elapsed()
      const sent = pool.sent()
      const received = subs.received()
      series.push({t: round(t, 3), dt: round(t - lastT, 3), sent: sent - last.sent, received: received - last.received})
      lastT = t
      last = {sent, received}
      progress('run', elapsed(), series.at(-1)!.received || series.at(-1)!.sent)
    }
    const sampler = setInterval(sample, 1000)
    const deadline = Date.now() + plan.durationMs
    while (Date.now() < deadline && !hooks.signal?.aborted && !(plan.publishers > 0 && pool.allDone())) await sleep(20)
    const publishSeconds = elapsed()
    await pool.stop()
    const sent = pool.sent()
    // Let what is in flight arrive (bounded by drainMs).
    progress('drain', publishSeconds, 0)
    const expected = sent * plan.subscribers
    const drainUntil = Date.now() + plan.drainMs
    while (Date.now() < drainUntil && !hooks.signal?.aborted) {
      if ((plan.qos === 0 || pool.outstanding() === 0) && subs.received() >= expected) break
      await sleep(10)
    }
    clearInterval(sampler)
    if (series.length === 0 || sent !== last.sent || subs.received() !== last.received) sample()
    const figures = plan.subscribers > 0 ? await subs.finish() : undefined
    const mqttBytes = encodePublish(plan.protocolVersion, topicFor(plan.topic, 0, 'x'), Buffer.alloc(plan.payloadSize), plan.qos as QoS, false, false, 1, undefined).length
    const min = minimumWireBytes(transport, mqttBytes)
    const deflate = figures?.extensions?.includes('permessage-deflate') ?? false
    const received = figures?.received ?? 0
    let lost = 0
    if (plan.publishers > 0) for (const unique of figures?.unique ?? []) lost += Math.max(0, sent - unique)
    const lastReceiveNs = figures?.lastReceiveNs ?? 0
    const receiveSeconds = lastReceiveNs > 0 ? (lastReceiveNs - Number(t0)) / 1e9 : publishSeconds
    return {
      transport,
      url: urlList(url)[0],
      urls: urlList(url),
      sent,
      received,
      lost,
      expected: plan.publishers > 0 ? sent * plan.subscribers : 0,
      duplicates: figures?.duplicates ?? 0,
      pub_errors: pool.pubErrors() + (plan.qos > 0 ? pool.outstanding() : 0),
      elapsed_s: round(publishSeconds, 3),
      msgs_per_s: round(sent / publishSeconds, 0),
      // Over the whole run: a subscriber that stops receiving early must not look fast.
      recv_per_s: round(received / Math.max(receiveSeconds, publishSeconds, 1e-9), 0),
      latency: summarize(figures?.histogram ?? new LatencyHistogram()),
      overhead: {
        mqtt_bytes: mqttBytes,
        pub_wire_bytes: sent > 0 ? round(pool.bytesWritten() / sent, 2) : 0,
        sub_wire_bytes: received > 0 ? round((figures?.bytes ?? 0) / received, 2) : 0,
        pub_min_bytes: min.clientToBroker,
        sub_min_bytes: min.brokerToClient,
        note: deflate ? `permessage-deflate on; ${min.note}` : min.note,
        ...(deflate ? {deflate} : {}),
        ...(plan.topicAliasMax > 0 && figures
          ? {topic_alias_bytes_saved: figures.aliasBytesSaved, sub_wire_bytes_without_aliases: received > 0 ? round((figures.bytes + figures.aliasBytesSaved) / received, 2) : 0}
          : {}),
      },
      generator_threads: plan.workers > 1 ? {publishers: pubWorkers, subscribers: subWorkers} : {publishers: 0, subscribers: 0},
      series,
    }
  } finally {
    progress('done', 0, 0)
    await Promise.all([pool.close(), opened ? subs.close() : undefined])
  }
}

/** conn: open N connections (at a rate), count successes, failures by reason, and connects/s. */
async function runConnect(transport: BenchTransport, url: string, plan: BenchPlan, target: BenchTarget, hooks: BenchHooks): Promise<TransportResult> {
  const histogram = new LatencyHistogram()
  // CONNECT → CONNACK alone: what the broker's authentication (and session set-up) costs per connection.
  const auth = new LatencyHistogram()
  const memBefore = await hooks.brokerMemory?.()
  const cpuBefore = await hooks.brokerCpu?.()
  const failures: Record<string, number> = {}
  const clients: MqttClient[] = []
  const t0 = process.hrtime.bigint()
  let started = 0
  let finished = 0
  const attempts: Array<Promise<void>> = []
  const one = async (i: number): Promise<void> => {
    const s = process.hrtime.bigint()
    try {
      const c = await MqttClient.connect({url: urlFor(url, i), protocolVersion: plan.protocolVersion, clientId: `bench-conn-${process.pid}-${i}`, keepalive: 0, username: target.username, password: target.password, authMethod: target.authMethod, dial: {tls: target.tls}})
      histogram.record(Number(process.hrtime.bigint() - s))
      auth.record(Math.round(c.handshakeMs * 1e6))
      clients.push(c)
    } catch (error) {
      const reason = (error as {code?: string}).code ?? 'error'
      failures[reason] = (failures[reason] ?? 0) + 1
    } finally {
      finished++
    }
  }
  while (started < plan.connections && !hooks.signal?.aborted) {
    if (plan.connectRate > 0) {
      const due = Math.floor((Number(process.hrtime.bigint() - t0) / 1e9) * plan.connectRate)
      while (started < Math.min(due, plan.connections)) attempts.push(one(started++))
      await sleep(PACE_MS)
    } else {
      // Flat out, but with at most 100 handshakes in flight.
      while (started < plan.connections && started - finished < 100) attempts.push(one(started++))
      await sleep(1)
    }
    hooks.onProgress?.({transport, phase: 'run', elapsed_s: Number(process.hrtime.bigint() - t0) / 1e9, sent: started, received: clients.length, rate: 0})
  }
  await Promise.all(attempts)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  // The broker's CPU over the connect phase, per connection: what a CONNECT costs it.
  const cpuAfter = await hooks.brokerCpu?.()
  // Memory with every connection open and idle, against before: what one idle connection costs the broker.
  const memAfter = hooks.brokerMemory === undefined ? undefined : await settledMemory(hooks.brokerMemory, plan.settleS * 1000)
  await Promise.all(clients.map((c) => c.end()))
  return {
    transport,
    url: urlList(url)[0],
    urls: urlList(url),
    sent: started,
    received: clients.length,
    lost: 0,
    duplicates: 0,
    pub_errors: 0,
    elapsed_s: round(seconds, 3),
    msgs_per_s: 0,
    recv_per_s: 0,
    latency: summarize(histogram),
    overhead: {mqtt_bytes: 0, pub_wire_bytes: 0, sub_wire_bytes: 0, pub_min_bytes: 0, sub_min_bytes: 0, note: ''},
    connects: clients.length,
    connect_failures: failures,
    auth_latency: summarize(auth),
    connects_per_s: round(clients.length / seconds, 0),
    ...(memBefore !== undefined && memAfter !== undefined
      ? {broker_rss_before: memBefore, broker_rss_after: memAfter, broker_bytes_per_connection: clients.length > 0 ? Math.round((memAfter - memBefore) / clients.length) : 0}
      : {}),
    ...(cpuBefore !== undefined && cpuAfter !== undefined && clients.length > 0 ? {broker_cpu_per_connect_us: round((cpuAfter - cpuBefore) / clients.length, 1)} : {}),
    series: [],
  }
}

/** Runs the plan over each of its transports in turn, same settings, same process. */
export async function runBench(plan: BenchPlan, target: BenchTarget, hooks: BenchHooks = {}): Promise<BenchResult> {
  const results: TransportResult[] = []
  const started = new Date().toISOString()
  for (const transport of plan.transports) {
    const url = target.urls[transport]
    if (!url) throw new Error(`no ${transport} URL to benchmark`)
    if (hooks.signal?.aborted) break
    results.push(plan.scenario === 'conn' ? await runConnect(transport, url, plan, target, hooks) : await runLoad(transport, url, plan, target, hooks))
  }
  const cpus = os.cpus()
  return {
    tool: 'mqttws bench',
    version: 1,
    scenario: plan.scenario,
    started,
    environment: {node: process.version, platform: process.platform, arch: process.arch, cpus: cpus.length, cpu: cpus[0]?.model ?? 'unknown'},
    settings: {...plan},
    results,
  }
}

/** With --settle, conn waits at most this much longer than asked for the broker's memory to stop falling. */
const MEMORY_SETTLE_EXTRA_MS = 10_000

/**
 * The broker's resident memory, with --settle once it has been idle: a garbage-collected
 * broker grows its young generation during a burst of connects and gives it back only when
 * idle (V8: some 8 s after the allocations stop), if at all, which is not what an idle
 * connection costs. Sampled every 500 ms for `minMs`, then until two samples in a row are no
 * more than 1% below the lowest so far (MEMORY_SETTLE_EXTRA_MS more at most); the lowest
 * sample. With `minMs` 0, read once.
 */
async function settledMemory(read: () => Promise<number | undefined>, minMs: number): Promise<number | undefined> {
  let lowest = await read()
  if (lowest === undefined || minMs <= 0) return lowest
  let steady = 0
  for (let waited = 0; waited < minMs + MEMORY_SETTLE_EXTRA_MS && (waited < minMs || steady < 2); waited += 500) {
    await sleep(500)
    const now = await read()
    if (now === undefined) return lowest
    steady = now >= lowest * 0.99 ? steady + 1 : 0
    lowest = Math.min(lowest, now)
  }
  return lowest
}
