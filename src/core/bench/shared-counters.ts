/**
 * The memory the main thread and the bench's worker threads share: counts in Float64 slots
 * (exact far beyond 2^31 messages), and two Int32 slots for Atomics: WAKE, a generation
 * the main thread bumps (Atomics.notify) to resume at once the publishers parked by the
 * delivery window (when it writes off what a broker dropped, or stops the run), and
 * PARKED, how many publishers wait. A parked publisher otherwise looks at its window again
 * every PARK_POLL_MS: a bounded wait on the event loop, no thread blocked, no busy loop.
 */
import type {HistogramState} from './latency.js'
import type {WorkerError} from './worker-errors.js'

/** Atomics.waitAsync (Node ≥ 16; not in this TypeScript lib yet). */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => {async: false; value: 'not-equal' | 'timed-out'} | {async: true; value: Promise<'ok' | 'timed-out'>}
const waitAsync = (Atomics as unknown as {waitAsync: WaitAsync}).waitAsync

/** How long a parked publisher waits before it looks at the window again (unless woken). */
export const PARK_POLL_MS = 1

const WAKE = 0
const PARKED = 1
/** Bumped by every subscriber worker's timer: a starved subscriber thread is no broker stall. */
const ALIVE = 2
const CONTROL_BYTES = 16

/** How often subscriber workers bump ALIVE. */
export const ALIVE_MS = 20

export interface SharedShape {
  /** Threads running publishers, and subscribers. */
  pubWorkers: number
  subWorkers: number
  publishers: number
  /** --inflight: subscribers count deliveries per publisher too. */
  perPublisher: boolean
}

export class SharedCounters {
  readonly buffer: SharedArrayBuffer
  /** WAKE and PARKED (Atomics). */
  readonly control: Int32Array
  /** [written off, sent per publisher worker…, received per subscriber worker…, with --inflight: received per subscriber worker × publisher…]. */
  readonly counts: Float64Array
  private readonly sentAt = 1
  private readonly receivedAt: number
  private readonly fromAt: number

  constructor(
    readonly shape: SharedShape,
    buffer?: SharedArrayBuffer,
  ) {
    this.receivedAt = this.sentAt + shape.pubWorkers
    this.fromAt = this.receivedAt + shape.subWorkers
    const slots = this.fromAt + (shape.perPublisher ? shape.subWorkers * shape.publishers : 0)
    this.buffer = buffer ?? new SharedArrayBuffer(CONTROL_BYTES + 8 * slots)
    this.control = new Int32Array(this.buffer, 0, CONTROL_BYTES / 4)
    this.counts = new Float64Array(this.buffer, CONTROL_BYTES, slots)
  }

  get writtenOff(): number {
    return this.counts[0]
  }

  set writtenOff(v: number) {
    this.counts[0] = v
  }

  /** Messages sent by every publisher worker. */
  sent(): number {
    let n = 0
    for (let w = 0; w < this.shape.pubWorkers; w++) n += this.counts[this.sentAt + w]
    return n
  }

  setSent(worker: number, n: number): void {
    this.counts[this.sentAt + worker] = n
  }

  /** Deliveries counted by every subscriber worker. */
  received(): number {
    let n = 0
    for (let w = 0; w < this.shape.subWorkers; w++) n += this.counts[this.receivedAt + w]
    return n
  }

  receivedSlot(worker: number): number {
    return this.receivedAt + worker
  }

  /** Where subscriber worker `worker` counts the deliveries of publisher 0 (publisher p: + p). */
  fromSlot(worker: number): number {
    return this.fromAt + worker * this.shape.publishers
  }

  /** Deliveries of publisher p's messages, over every subscriber worker (--inflight). */
  receivedFrom(p: number): number {
    let n = 0
    for (let w = 0; w < this.shape.subWorkers; w++) n += this.counts[this.fromAt + w * this.shape.publishers + p]
    return n
  }

  /** The subscriber workers' event loops ran (their timers fired). */
  alive(): number {
    return Atomics.load(this.control, ALIVE)
  }

  beat(): void {
    Atomics.add(this.control, ALIVE, 1)
  }

  /** Publishers waiting for the window. */
  parked(): number {
    return Atomics.load(this.control, PARKED)
  }

  /** Resumes every parked publisher (they look at the window again). */
  wake(): void {
    Atomics.add(this.control, WAKE, 1)
    Atomics.notify(this.control, WAKE)
  }

  /**
   * Parks until wake() or `timeoutMs` (a bounded wait, on the event loop: no thread blocks),
   * then calls `resume` (which looks at the window again, and parks again if it is still full). `stillFull` is asked once parked, so a wake between the caller's
   * look at the window and this call is not lost.
   */
  park(resume: () => void, stillFull: () => boolean, timeoutMs: number): void {
    Atomics.add(this.control, PARKED, 1)
    const generation = Atomics.load(this.control, WAKE)
    const done = (): void => {
      Atomics.sub(this.control, PARKED, 1)
      resume()
    }
    if (!stillFull()) {
      Atomics.sub(this.control, PARKED, 1)
      setImmediate(resume)
      return
    }
    const wait = waitAsync(this.control, WAKE, generation, timeoutMs)
    if (wait.async) void wait.value.then(done)
    else {
      Atomics.sub(this.control, PARKED, 1)
      setImmediate(resume)
    }
  }
}

/** What a subscriber worker reports when told to finish. */
export interface SubscriberReport {
  type: 'done'
  received: number
  /** Distinct messages each of its subscribers got (loss is what the publishers sent less these). */
  unique: number[]
  duplicates: number
  histogram: HistogramState
  lastReceiveNs: number
  /** Bytes read since 'start'. */
  bytes: number
  extensions: string | undefined
  aliasBytesSaved: number
}

export type WorkerReport =
  | {type: 'ready'; bytes: number}
  | WorkerError
  | {type: 'finished'}
  | {type: 'done'; sent: number; pubErrors: number; outstanding: number; bytes: number}
