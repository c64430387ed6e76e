/**
 * Counting deliveries in a subscriber worker, into shared memory: the main thread reads the
 * live figures there and the publisher workers their window. It wakes nobody: parked
 * publishers look again on their own (SharedCounters.park), since Atomics.notify to a
 * waitAsync waiter took ~0.6 ms a call here (2 cores, 5 threads) — on the receive path
 * that cost more than it saved.
 */
import type {SharedCounters} from './shared-counters.js'
import type {Tally} from './subscriber.js'

export class WorkerTally implements Tally {
  received = 0
  lastReceiveNs = 0
  private readonly counts: Float64Array
  private readonly slot: number
  private readonly fromAt: number
  private readonly publishers: number

  constructor(shared: SharedCounters, worker: number) {
    this.counts = shared.counts
    this.slot = shared.receivedSlot(worker)
    this.publishers = shared.shape.publishers
    this.fromAt = shared.shape.perPublisher ? shared.fromSlot(worker) : -1
  }

  delivered(publisher: number, nowNs: number): void {
    this.counts[this.slot] = ++this.received
    this.lastReceiveNs = nowNs
    if (this.fromAt >= 0 && publisher >= 0 && publisher < this.publishers) this.counts[this.fromAt + publisher]++
  }
}
