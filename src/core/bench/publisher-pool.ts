/**
 * Where the bench's publishers run: on this thread (LocalPool), or spread over worker
 * threads (WorkerPool) so that the generator can use every core and the subscribers on
 * this thread are not starved by the send loops.
 */
import type {Worker} from 'node:worker_threads'
import {openPublishers} from './load-clients.js'
import type {ConnectionSet, LoadPublisher} from './load-clients.js'
import type {BenchPlan} from './plan.js'
import {STALL_MS, deliveryWindow} from './publisher.js'
import type {PublisherCounters} from './publisher.js'
import type {BenchTarget} from './run.js'
import type {SharedCounters, WorkerReport} from './shared-counters.js'
import type {PublisherJob} from './publisher-worker.js'
import {fromWorkerError} from './worker-errors.js'
import {closeWorkers, startWorkers} from './worker-threads.js'

export interface PublisherPool {
  connect(): Promise<void>
  start(): void
  /** Every publisher reached --count (or lost its connection). */
  allDone(): boolean
  /** Messages sent so far. */
  sent(): number
  /** Stops sending; resolves once the final figures are known. */
  stop(): Promise<void>
  /** QoS 1/2 publishes still unacknowledged. */
  outstanding(): number
  pubErrors(): number
  /** Wire bytes the publishers wrote since connect() finished. */
  bytesWritten(): number
  close(): Promise<void>
}

export class LocalPool implements PublisherPool {
  private pubs: LoadPublisher[] = []
  private connections: ConnectionSet | undefined
  private bytes0 = 0

  constructor(
    private readonly plan: BenchPlan,
    private readonly url: string,
    private readonly target: BenchTarget,
    private readonly counters: PublisherCounters,
  ) {}

  async connect(): Promise<void> {
    const opened = await openPublishers(this.plan, this.url, this.target, 0, this.plan.publishers, this.counters, 'bench-pub')
    this.pubs = opened.publishers
    this.connections = opened.connections
    this.bytes0 = opened.connections.bytesWritten()
  }

  start(): void {
    for (const p of this.pubs) p.start()
  }

  allDone(): boolean {
    return this.pubs.length > 0 && this.pubs.every((p) => !p.live() || (this.plan.count > 0 && p.seq >= this.plan.count))
  }

  sent(): number {
    return this.counters.sent
  }

  async stop(): Promise<void> {
    for (const p of this.pubs) p.stop()
  }

  outstanding(): number {
    return this.pubs.reduce((a, p) => a + p.outstanding, 0)
  }

  pubErrors(): number {
    return this.counters.pubErrors
  }

  bytesWritten(): number {
    return (this.connections?.bytesWritten() ?? 0) - this.bytes0
  }

  async close(): Promise<void> {
    await this.connections?.close()
  }
}

interface WorkerState {
  worker: Worker
  ready?: {bytes: number}
  done?: Extract<WorkerReport, {type: 'done'}>
  finished: boolean
  error?: string
}

export class WorkerPool implements PublisherPool {
  private readonly states: WorkerState[] = []
  private monitor: NodeJS.Timeout | undefined
  private lastReceived = -1
  private stalledSince = 0
  private aliveSince = 0
  private readonly workers: number

  constructor(
    private readonly plan: BenchPlan,
    private readonly url: string,
    private readonly target: BenchTarget,
    /** Sent counts, the subscribers' deliveries, the window's wake-ups. */
    private readonly shared: SharedCounters,
  ) {
    this.workers = shared.shape.pubWorkers
  }

  async connect(): Promise<void> {
    const access = {tls: this.target.tls, username: this.target.username, password: this.target.password}
    await startWorkers(
      new URL('./publisher-worker.js', import.meta.url),
      this.workers,
      this.plan.publishers,
      ({worker, first, count}): PublisherJob => ({plan: this.plan, url: this.url, access, first, count, worker, shape: this.shared.shape, shared: this.shared.buffer}),
      (worker) => {
        const state: WorkerState = {worker, finished: false}
        this.states.push(state)
        return new Promise<void>((resolve, reject) => {
          worker.on('message', (m: WorkerReport) => {
            if (m.type === 'ready') {
              state.ready = {bytes: m.bytes}
              resolve()
            } else if (m.type === 'error') {
              state.error = m.message
              reject(fromWorkerError(m))
            } else if (m.type === 'finished') state.finished = true
            else if (m.type === 'done') state.done = m
          })
          worker.once('error', reject)
          worker.once('exit', (code) => {
            if (!state.ready) reject(new Error(`a publisher worker exited with ${code}`))
          })
        })
      },
      () => this.close(),
    )
  }

  start(): void {
    for (const s of this.states) s.worker.postMessage('start')
    // A broker that drops QoS 0 would leave the window full forever: write the gap off.
    this.monitor = setInterval(() => this.checkStall(), 50)
  }

  private checkStall(): void {
    const received = this.shared.received()
    const ahead = this.sent() * this.plan.subscribers - received - this.shared.writtenOff
    if (ahead < deliveryWindow(this.plan) || received !== this.lastReceived) {
      this.lastReceived = received
      this.stalledSince = Date.now()
      this.aliveSince = this.shared.alive()
      return
    }
    // Only when the subscriber threads ran meanwhile (on a busy machine one may get no CPU for a while:
    // then the deliveries wait in its socket, and writing them off would let the publishers flood the broker).
    const ran = this.shared.shape.subWorkers === 0 || this.shared.alive() - this.aliveSince >= this.shared.shape.subWorkers * 2
    if (ran && Date.now() - this.stalledSince >= STALL_MS) {
      this.shared.writtenOff = this.sent() * this.plan.subscribers - received
      this.shared.wake()
    }
  }

  allDone(): boolean {
    return this.states.every((s) => s.finished)
  }

  sent(): number {
    return this.shared.sent()
  }

  async stop(): Promise<void> {
    if (this.monitor) clearInterval(this.monitor)
    for (const s of this.states) s.worker.postMessage('stop')
    this.shared.wake()
    const until = Date.now() + this.plan.drainMs + 5000
    while (this.states.some((s) => !s.done) && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
  }

  outstanding(): number {
    return this.states.reduce((a, s) => a + (s.done?.outstanding ?? 0), 0)
  }

  pubErrors(): number {
    return this.states.reduce((a, s) => a + (s.done?.pubErrors ?? 0), 0)
  }

  bytesWritten(): number {
    return this.states.reduce((a, s) => a + (s.done && s.ready ? s.done.bytes - s.ready.bytes : 0), 0)
  }

  async close(): Promise<void> {
    if (this.monitor) clearInterval(this.monitor)
    await closeWorkers(this.states.map((s) => s.worker))
  }
}
