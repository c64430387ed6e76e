/**
 * One bench subscriber's receive side, on the main thread or in a subscriber worker alike:
 * latency from the stamp, loss and duplicates per publisher. Where the deliveries are
 * counted (and who is told, for the delivery window) is the Tally's business.
 */
import type {LatencyHistogram} from './latency.js'
import {SeqTracker, STAMP_BYTES, stampPublisher, stampSeq, stampTimeNs} from './stamp.js'
import type {Receiver} from './wire/stamp-subscriber.js'

/** Counts the deliveries of one thread's subscribers. */
export interface Tally {
  /** One delivery, of publisher `publisher`'s message (-1: no stamp), read at `nowNs`. */
  delivered(publisher: number, nowNs: number): void
}

export class Subscriber implements Receiver {
  /** What this subscriber got from each publisher: every subscriber should get everything. */
  readonly trackers: SeqTracker[]

  constructor(
    readonly tally: Tally,
    readonly histogram: LatencyHistogram,
    publishers: number,
  ) {
    this.trackers = Array.from({length: publishers}, () => new SeqTracker())
  }

  deliver(buf: Buffer, start: number, end: number, nowNs: number): void {
    if (end - start < STAMP_BYTES) {
      this.tally.delivered(-1, nowNs)
      return
    }
    const publisher = stampPublisher(buf, start)
    this.tally.delivered(publisher, nowNs)
    this.histogram.record(nowNs - stampTimeNs(buf, start))
    const tracker = this.trackers[publisher]
    if (tracker) tracker.add(stampSeq(buf, start))
  }

  /** Distinct messages this subscriber got, over every publisher. */
  unique(): number {
    let n = 0
    for (const t of this.trackers) n += t.unique
    return n
  }

  duplicates(): number {
    let n = 0
    for (const t of this.trackers) n += t.duplicates
    return n
  }
}
