/**
 * A subscriber worker: a share of the bench's subscribers on its own thread, so receiving
 * is not capped by one thread. It counts deliveries into shared memory (live figures, the
 * delivery window) and, when told to finish, reports what only it knows: per subscriber
 * the distinct messages, duplicates, and its latency histogram (merged exactly by the main
 * thread).
 */
import {parentPort, workerData} from 'node:worker_threads'
import type {BenchAccess} from './connect.js'
import {LatencyHistogram} from './latency.js'
import {openSubscribers} from './load-clients.js'
import type {ConnectionSet} from './load-clients.js'
import type {BenchPlan} from './plan.js'
import {ALIVE_MS, SharedCounters} from './shared-counters.js'
import type {SharedShape, SubscriberReport, WorkerReport} from './shared-counters.js'
import {Subscriber} from './subscriber.js'
import {toWorkerError} from './worker-errors.js'
import {WorkerTally} from './worker-tally.js'

export interface SubscriberJob {
  plan: BenchPlan
  url: string
  access: BenchAccess
  filter: string
  count: number
  /** The run-wide index of this worker's first subscriber. */
  first: number
  worker: number
  shape: SharedShape
  shared: SharedArrayBuffer
}

const job = workerData as SubscriberJob
const port = parentPort!
const post = (m: WorkerReport | SubscriberReport): void => port.postMessage(m)
const shared = new SharedCounters(job.shape, job.shared)
const tally = new WorkerTally(shared, job.worker)
const histogram = new LatencyHistogram()
const subs: Subscriber[] = []
let connections: ConnectionSet | undefined
try {
  connections = await openSubscribers(job.plan, job.url, job.access, job.count, job.filter, () => {
    const s = new Subscriber(tally, histogram, job.plan.publishers)
    subs.push(s)
    return s
  }, `bench-sub-w${job.worker}`, job.first)
  post({type: 'ready', bytes: connections.bytesRead()})
} catch (error) {
  post(toWorkerError(error))
}

let bytes0 = 0
// Tells the stall monitor this thread runs: deliveries missing while it does were dropped by the broker.
setInterval(() => shared.beat(), ALIVE_MS).unref()
port.on('message', async (m: 'start' | 'finish' | 'close') => {
  if (m === 'start') bytes0 = connections?.bytesRead() ?? 0
  else if (m === 'finish') {
    post({
      type: 'done',
      received: tally.received,
      unique: subs.map((s) => s.unique()),
      duplicates: subs.reduce((a, s) => a + s.duplicates(), 0),
      histogram: histogram.state(),
      lastReceiveNs: tally.lastReceiveNs,
      bytes: (connections?.bytesRead() ?? 0) - bytes0,
      extensions: connections?.extensions(),
      aliasBytesSaved: connections?.aliasBytesSaved?.() ?? 0,
    })
  } else if (m === 'close') {
    await connections?.close()
    port.close()
  }
})
