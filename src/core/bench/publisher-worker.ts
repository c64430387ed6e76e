/**
 * A publisher worker: a share of the bench's publishers on its own thread, so the load
 * generator can use every core. It counts sends into shared memory (for the delivery
 * window and the live figures) and reports its totals when told to stop.
 */
import {parentPort, workerData} from 'node:worker_threads'
import type {BenchAccess} from './connect.js'
import {openPublishers} from './load-clients.js'
import type {ConnectionSet, LoadPublisher} from './load-clients.js'
import type {BenchPlan} from './plan.js'
import {deliveryWindow} from './publisher.js'
import type {PublisherCounters} from './publisher.js'
import {SHARED_RECEIVED, SHARED_SENT, SHARED_WRITTEN_OFF} from './shared-counters.js'
import type {WorkerReport} from './shared-counters.js'

interface Job {
  plan: BenchPlan
  url: string
  access: BenchAccess
  first: number
  count: number
  worker: number
  workers: number
  shared: SharedArrayBuffer
}

const job = workerData as Job
const mem = new Int32Array(job.shared)
const port = parentPort!
const post = (m: WorkerReport): void => port.postMessage(m)

class WorkerCounters implements PublisherCounters {
  private n = 0
  pubErrors = 0
  acked = 0
  readonly fanout = job.plan.subscribers
  readonly window = deliveryWindow(job.plan)

  get sent(): number {
    return this.n
  }

  set sent(v: number) {
    this.n = v
    mem[SHARED_SENT + job.worker] = v
  }

  ahead(): number {
    let sent = 0
    for (let w = 0; w < job.workers; w++) sent += mem[SHARED_SENT + w]
    return sent * this.fanout - mem[SHARED_RECEIVED] - mem[SHARED_WRITTEN_OFF]
  }

  park(p: {readonly pump: () => void}): void {
    // The subscribers live on the main thread: look again shortly.
    setTimeout(p.pump, 1)
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
  post({type: 'error', message: (error as Error).message})
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
