/**
 * `bench --inflight N`: each publisher may have at most N messages sent and not yet
 * received by every subscriber, so the rate measured is the one the broker sustains (a
 * closed loop per publisher, QoS 0 included). A broker that drops messages must not stall
 * a publisher forever: parked this long without any of its messages arriving, the missing
 * deliveries are written off (and reported as lost).
 */
import {STALL_MS} from './publisher.js'

export class InflightGate {
  /** Per publisher: deliveries seen when it last had to wait, and since when (ms); -1 while it has room. */
  private readonly mark: Float64Array
  private readonly since: Float64Array
  private readonly writtenOff: Float64Array

  constructor(
    readonly limit: number,
    readonly fanout: number,
    publishers: number,
    /** Deliveries of publisher p's messages so far. */
    private readonly receivedFrom: (p: number) => number,
    private readonly now: () => number = Date.now,
  ) {
    this.mark = new Float64Array(publishers).fill(-1)
    this.since = new Float64Array(publishers)
    this.writtenOff = new Float64Array(publishers)
  }

  /** Messages publisher p (having sent `seq`) may send now; 0: wait for deliveries. */
  room(p: number, seq: number): number {
    const fanout = this.fanout
    const received = this.receivedFrom(p)
    const room = Math.floor((this.limit * fanout - (seq * fanout - received - this.writtenOff[p])) / fanout)
    if (room > 0) {
      this.mark[p] = -1
      return room
    }
    const now = this.now()
    if (received !== this.mark[p]) {
      this.mark[p] = received
      this.since[p] = now
      return 0
    }
    if (now - this.since[p] < STALL_MS) return 0
    // Nothing of this publisher's arrived for STALL_MS: the broker dropped what is missing.
    this.writtenOff[p] = seq * fanout - received
    this.mark[p] = -1
    return this.limit
  }
}
