/**
 * A publisher worker: a share of the bench's publishers on its own thread, so the load
 * generator can use every core. It counts sends into shared memory (for the delivery
 * window and the live figures) and reports its totals when told to stop.
 */
import {parentPort, workerData} from 'node:worker_threads'
import type {BenchAccess} from './connect.js'
import {InflightGate} from './inflight.js'
import {openPublishers} from './load-clients.js'
import type {ConnectionSet, LoadPublisher} from './load-clients.js'
import type {BenchPlan} from './plan.js'
import {deliveryWindow} from './publisher.js'
import type {Parkable, PublisherCounters} from './publisher.js'
import {PARK_POLL_MS, SharedCounters} from './shared-counters.js'
import type {SharedShape, WorkerReport} from './shared-counters.js'
import {toWorkerError} from './worker-errors.js'

export interface PublisherJob {
  plan: BenchPlan
  url: string
  access: BenchAccess
  first: number
  count: number
  worker: number
  shape: SharedShape
  shared: SharedArrayBuffer
}

const job = workerData as PublisherJob
const shared = new SharedCounters(job.shape, job.shared)
const port = parentPort!
const post = (m: WorkerReport): void => port.postMessage(m)

class WorkerCounters implements PublisherCounters {
  private n = 0
  pubErrors = 0
  acked = 0
  readonly fanout = job.plan.subscribers
  readonly window = deliveryWindow(job.plan)
  readonly inflight = job.plan.inflight
  private readonly gate = job.plan.inflight > 0 && job.plan.subscribers > 0 ? new InflightGate(job.plan.inflight, job.plan.subscribers, job.plan.publishers, (p) => shared.receivedFrom(p)) : undefined

  get sent(): number {
    return this.n
  }

  set sent(v: number) {
    this.n = v
    shared.setSent(job.worker, v)
  }

  ahead(): number {
    return shared.sent() * this.fanout - shared.received() - shared.writtenOff
  }

  inflightRoom(index: number, seq: number): number {
    if (!this.gate) return Infinity
    return this.gate.room(index, seq)
  }

  /** Publishers of this worker waiting for the window: one wait for them all. */
  private parked: Parkable[] = []
  private readonly resumeAll = (): void => {
    const parked = this.parked
    this.parked = []
    for (const p of parked) p.pump()
  }

  private readonly allFull = (): boolean => this.parked.every((p) => p.windowFull())

  park(p: Parkable): void {
    if (this.parked.includes(p)) return
    // The subscribers are other threads: look again shortly, or at once when the main thread writes off a stall.
    if (this.parked.push(p) === 1) shared.park(this.resumeAll, this.allFull, PARK_POLL_MS)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const counters = new WorkerCounters()
let connections: ConnectionSet | undefined
let pubs: LoadPublisher[] = []
try {
  const opened = await openPublishers(job.plan, job.url, job.access, job.first, job.count, counters, `bench-pub-w${job.worker}`)
  pubs = opened.publishers
  connections = opened.connections
  post({type: 'ready', bytes: connections.bytesWritten()})
} catch (error) {
  post(toWorkerError(error))
}

let finishedTimer: NodeJS.Timeout | undefined
port.on('message', async (m: 'start' | 'stop' | 'close') => {
  if (m === 'start') {
    for (const p of pubs) p.start()
    finishedTimer = setInterval(() => {
      if (pubs.every((p) => !p.live() || (job.plan.count > 0 && p.seq >= job.plan.count))) {
        clearInterval(finishedTimer)
        post({type: 'finished'})
      }
    }, 20)
  } else if (m === 'stop') {
    if (finishedTimer) clearInterval(finishedTimer)
    for (const p of pubs) p.stop()
    const until = Date.now() + job.plan.drainMs
    while (job.plan.qos > 0 && pubs.some((p) => p.outstanding > 0) && Date.now() < until) await sleep(10)
    post({
      type: 'done',
      sent: counters.sent,
      pubErrors: counters.pubErrors,
      outstanding: pubs.reduce((a, p) => a + p.outstanding, 0),
      bytes: connections?.bytesWritten() ?? 0,
    })
  } else if (m === 'close') {
    await connections?.close()
    port.close()
  }
})
