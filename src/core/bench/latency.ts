/**
 * Latency histogram for the receive loop: record() is a few arithmetic operations in
 * JavaScript (node's RecordableHistogram is a native call per value, ~10% of the
 * generator's time in a 1→100 fan-out). Log-linear buckets: 64 per power of two, so a
 * percentile is within 1/64 (1.6%) of the true value; max, count and mean are exact.
 */
const SUB_BUCKETS = 64
const POWERS = 64
const TWO_32 = 4_294_967_296
/** 2^-e for every exponent: a multiply instead of a power per record. */
const INV_POW2 = Float64Array.from({length: POWERS}, (_, e) => 2 ** -e)

export interface Percentiles {
  readonly count: number
  readonly max: number
  readonly mean: number
  percentile(p: number): number
}

/** A histogram's whole state, to send to another thread and merge there exactly. */
export interface HistogramState {
  buckets: Float64Array
  count: number
  max: number
  sum: number
}

export class LatencyHistogram implements Percentiles {
  private readonly buckets = new Float64Array(POWERS * SUB_BUCKETS)
  count = 0
  max = 0
  private sum = 0

  /** Records one latency in nanoseconds (values below 1 count as 1). */
  record(ns: number): void {
    const v = ns < 1 ? 1 : ns
    const e = v < TWO_32 ? 31 - Math.clz32(v) : 63 - Math.clz32(v / TWO_32)
    const sub = ((v * INV_POW2[e] - 1) * SUB_BUCKETS) | 0
    this.buckets[e * SUB_BUCKETS + sub]++
    this.count++
    this.sum += v
    if (v > this.max) this.max = v
  }

  /** Everything recorded, as plain data (structured-clonable). */
  state(): HistogramState {
    return {buckets: this.buckets, count: this.count, max: this.max, sum: this.sum}
  }

  /** Adds another histogram's values: the same buckets, so the merge is exact. */
  merge(other: HistogramState): void {
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i] += other.buckets[i]
    this.count += other.count
    this.sum += other.sum
    if (other.max > this.max) this.max = other.max
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count
  }

  /** The value below which p percent of the recorded values fall (the bucket's upper bound, capped at max). */
  percentile(p: number): number {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil((p / 100) * this.count))
    let seen = 0
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]
      if (seen >= rank) {
        const e = Math.floor(i / SUB_BUCKETS)
        const upper = 2 ** e * (1 + ((i % SUB_BUCKETS) + 1) / SUB_BUCKETS)
        return Math.min(upper, this.max)
      }
    }
    return this.max
  }
}
