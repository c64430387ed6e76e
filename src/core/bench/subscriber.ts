/**
 * One bench subscriber's receive side, on the main thread or in a subscriber worker alike:
 * latency from the stamp, loss and duplicates per publisher. Where the deliveries are
 * counted (and who is told, for the delivery window) is the Tally's business.
 */
import type {LatencyHistogram} from './latency.js'
import {SeqTracker, STAMP_BYTES} from './stamp.js'
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
    // The stamp's fields read byte by byte (Buffer's readUInt32BE checks bounds each call: the length was checked above).
    const publisher = (buf[start] * 0x1000000 + ((buf[start + 1] << 16) | (buf[start + 2] << 8) | buf[start + 3])) >>> 0
    this.tally.delivered(publisher, nowNs)
    const sentHi = buf[start + 8] * 0x1000000 + ((buf[start + 9] << 16) | (buf[start + 10] << 8) | buf[start + 11])
    const sentLo = buf[start + 12] * 0x1000000 + ((buf[start + 13] << 16) | (buf[start + 14] << 8) | buf[start + 15])
    this.histogram.record(nowNs - (sentHi * 4_294_967_296 + sentLo))
    const tracker = this.trackers[publisher]
    if (tracker) tracker.add(buf[start + 4] * 0x1000000 + ((buf[start + 5] << 16) | (buf[start + 6] << 8) | buf[start + 7]))
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
