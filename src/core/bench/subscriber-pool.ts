/**
 * Where the bench's subscribers run: on this thread (LocalSubscribers, with -w 1), or
 * spread over worker threads (WorkerSubscribers), so that receiving is not capped by the
 * main thread. Either way the figures come back as one SubscriberFigures.
 */
import type {Worker} from 'node:worker_threads'
import type {BenchAccess} from './connect.js'
import {LatencyHistogram} from './latency.js'
import {openSubscribers} from './load-clients.js'
import type {ConnectionSet} from './load-clients.js'
import type {LocalCounters} from './local-counters.js'
import type {BenchPlan} from './plan.js'
import type {SharedCounters, SubscriberReport, WorkerReport} from './shared-counters.js'
import {Subscriber} from './subscriber.js'
import type {SubscriberJob} from './subscriber-worker.js'
import {fromWorkerError} from './worker-errors.js'
import {closeWorkers, startWorkers} from './worker-threads.js'

export interface SubscriberFigures {
  received: number
  /** Distinct messages each subscriber got. */
  unique: number[]
  duplicates: number
  histogram: LatencyHistogram
  /** hrtime (ns) of the last delivery; 0 if none. */
  lastReceiveNs: number
  /** Wire bytes read since start(). */
  bytes: number
  extensions: string | undefined
  /** --topic-alias-max: wire bytes the broker's topic aliases saved, net. */
  aliasBytesSaved: number
}

export interface SubscriberPool {
  open(): Promise<void>
  /** The messages start: byte counts from now on. */
  start(): void
  /** Deliveries so far (live). */
  received(): number
  /** The figures, once the run has drained. */
  finish(): Promise<SubscriberFigures>
  close(): Promise<void>
}

export class LocalSubscribers implements SubscriberPool {
  private readonly histogram = new LatencyHistogram()
  private readonly subs: Subscriber[] = []
  private connections: ConnectionSet | undefined
  private bytes0 = 0

  constructor(
    private readonly plan: BenchPlan,
    private readonly url: string,
    private readonly access: BenchAccess,
    private readonly filter: string,
    private readonly counters: LocalCounters,
  ) {}

  async open(): Promise<void> {
    this.connections = await openSubscribers(this.plan, this.url, this.access, this.plan.subscribers, this.filter, () => {
      const s = new Subscriber(this.counters, this.histogram, this.plan.publishers)
      this.subs.push(s)
      return s
    })
  }

  start(): void {
    this.bytes0 = this.connections?.bytesRead() ?? 0
  }

  received(): number {
    return this.counters.received
  }

  async finish(): Promise<SubscriberFigures> {
    return {
      received: this.counters.received,
      unique: this.subs.map((s) => s.unique()),
      duplicates: this.subs.reduce((a, s) => a + s.duplicates(), 0),
      histogram: this.histogram,
      lastReceiveNs: this.counters.lastReceiveNs,
      bytes: (this.connections?.bytesRead() ?? 0) - this.bytes0,
      extensions: this.connections?.extensions(),
      aliasBytesSaved: this.connections?.aliasBytesSaved?.() ?? 0,
    }
  }

  async close(): Promise<void> {
    await this.connections?.close()
  }
}

const WORKER_TIMEOUT_MS = 5000

export class WorkerSubscribers implements SubscriberPool {
  private readonly workers: Worker[] = []

  constructor(
    private readonly plan: BenchPlan,
    private readonly url: string,
    private readonly access: BenchAccess,
    private readonly filter: string,
    private readonly shared: SharedCounters,
  ) {}

  async open(): Promise<void> {
    await startWorkers(
      new URL('./subscriber-worker.js', import.meta.url),
      this.shared.shape.subWorkers,
      this.plan.subscribers,
      ({worker, first, count}): SubscriberJob => ({plan: this.plan, url: this.url, access: this.access, filter: this.filter, count, first, worker, shape: this.shared.shape, shared: this.shared.buffer}),
      (worker) => {
        this.workers.push(worker)
        return reply(worker, 'ready')
      },
      () => this.close(),
    )
  }

  start(): void {
    for (const w of this.workers) w.postMessage('start')
  }

  received(): number {
    return this.shared.received()
  }

  async finish(): Promise<SubscriberFigures> {
    const reports = await Promise.all(
      this.workers.map((w) => {
        const done = reply(w, 'done') as Promise<SubscriberReport>
        w.postMessage('finish')
        return done
      }),
    )
    const histogram = new LatencyHistogram()
    for (const r of reports) histogram.merge(r.histogram)
    return {
      received: reports.reduce((a, r) => a + r.received, 0),
      unique: reports.flatMap((r) => r.unique),
      duplicates: reports.reduce((a, r) => a + r.duplicates, 0),
      histogram,
      lastReceiveNs: Math.max(0, ...reports.map((r) => r.lastReceiveNs)),
      bytes: reports.reduce((a, r) => a + r.bytes, 0),
      extensions: reports.map((r) => r.extensions).find((e) => e !== undefined),
      aliasBytesSaved: reports.reduce((a, r) => a + r.aliasBytesSaved, 0),
    }
  }

  async close(): Promise<void> {
    await closeWorkers(this.workers)
  }
}

/** The worker's next report of this type; rejects on its error report, a crash or WORKER_TIMEOUT_MS of silence after 'finish'. */
function reply(worker: Worker, type: 'ready' | 'done'): Promise<WorkerReport | SubscriberReport> {
  return new Promise((resolve, reject) => {
    const timer = type === 'done' ? setTimeout(() => fail(new Error('a subscriber worker did not report its figures')), WORKER_TIMEOUT_MS) : undefined
    const onMessage = (m: WorkerReport | SubscriberReport): void => {
      if (m.type === 'error') fail(fromWorkerError(m))
      else if (m.type === type) {
        cleanup()
        resolve(m)
      }
    }
    const onExit = (code: number): void => fail(new Error(`a subscriber worker exited with ${code}`))
    const fail = (e: Error): void => {
      cleanup()
      reject(e)
    }
    const cleanup = (): void => {
      if (timer) clearTimeout(timer)
      worker.off('message', onMessage)
      worker.off('error', fail)
      worker.off('exit', onExit)
    }
    worker.on('message', onMessage)
    worker.on('error', fail)
    worker.on('exit', onExit)
  })
}
