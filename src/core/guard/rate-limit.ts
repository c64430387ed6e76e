/**
 * Token buckets (issue 13): new connections per second per listener, messages and bytes per
 * second per client. Integer arithmetic in thousandths of a token, refilled from the clock
 * when a bucket is used: no timer per bucket. A limit of 0 builds no bucket at all, so a
 * feature that is off costs one `undefined` check.
 */
import {ConnState} from '../broker/types.js'

/** A bucket of `rate` tokens per second holding at most one second's worth. */
export interface Bucket {
  /** Thousandths of a token. */
  milli: number
  /** When it was last refilled (ms). */
  at: number
  /** Tokens per second. */
  readonly rate: number
}

export function newBucket(rate: number, now: number): Bucket {
  return {milli: rate * 1000, at: now, rate}
}

function refill(b: Bucket, now: number): void {
  const cap = b.rate * 1000
  if (now > b.at) {
    const m = b.milli + (now - b.at) * b.rate
    b.milli = m > cap ? cap : m
  }
  b.at = now
}

/**
 * Takes `cost` tokens; false (nothing taken) when there are not enough. A cost above the
 * whole capacity passes on a full bucket and leaves it in debt, so a large message is slowed,
 * not refused for ever.
 */
export function take(b: Bucket, cost: number, now: number): boolean {
  refill(b, now)
  const need = cost * 1000
  if (b.milli >= need || b.milli === b.rate * 1000) {
    b.milli -= need
    return true
  }
  return false
}

/** Milliseconds until the bucket holds at least one token again (0: it does now). */
export function msUntilToken(b: Bucket, now: number): number {
  refill(b, now)
  return b.milli >= 1000 ? 0 : Math.ceil((1000 - b.milli) / b.rate)
}

/** A client's message and byte buckets (limits.messageRate, limits.byteRate); either may be off. */
export interface ClientRate {
  readonly messages: Bucket | undefined
  readonly bytes: Bucket | undefined
}

/** The buckets of a new client, or undefined when both limits are off. */
export function newClientRate(messageRate: number, byteRate: number, now = Date.now()): ClientRate | undefined {
  if (messageRate <= 0 && byteRate <= 0) return undefined
  return {messages: messageRate > 0 ? newBucket(messageRate, now) : undefined, bytes: byteRate > 0 ? newBucket(byteRate, now) : undefined}
}

/** Whether one more message of `bytes` bytes fits; takes from both buckets only when both have room. */
export function admitMessage(r: ClientRate, bytes: number, now: number): boolean {
  const m = r.messages
  const b = r.bytes
  if (m !== undefined) {
    refill(m, now)
    if (m.milli < 1000) return false
  }
  if (b !== undefined && !take(b, bytes, now)) return false
  if (m !== undefined) m.milli -= 1000
  return true
}

/** Milliseconds until both buckets have room for one more (small) message. */
export function msUntilAdmit(r: ClientRate, now: number): number {
  const a = r.messages === undefined ? 0 : msUntilToken(r.messages, now)
  const b = r.bytes === undefined ? 0 : msUntilToken(r.bytes, now)
  return a > b ? a : b
}

/** What a throttled connection offers (ClientConnection): its buckets, and input that can be paused. */
export interface Throttled {
  readonly rate: ClientRate | undefined
  readonly state: number
  readonly decoder: {pause(): void; resume(): void}
  readonly stream: {pause(): unknown; resume(): unknown}
}

/**
 * The connections whose reading is paused because they went over their rate, and one timer
 * (not one per client) that resumes them once their buckets have refilled.
 */
export class Resumer {
  private readonly paused = new Set<Throttled>()
  private timer: NodeJS.Timeout | undefined

  get size(): number {
    return this.paused.size
  }

  /** Stops reading `t` until its buckets allow a message again. */
  pause(t: Throttled, now = Date.now()): void {
    if (this.paused.has(t)) return
    t.decoder.pause()
    t.stream.pause()
    this.paused.add(t)
    this.arm(msUntilAdmit(t.rate!, now))
  }

  private arm(ms: number): void {
    if (this.timer !== undefined) return
    this.timer = setTimeout(onResumeTick, Math.max(1, Math.min(ms, 1000)), this)
    this.timer.unref()
  }

  /** @internal the timer's work: resumes who may read again, re-arms for the rest. */
  tick(): void {
    this.timer = undefined
    const now = Date.now()
    let next = Number.POSITIVE_INFINITY
    for (const t of [...this.paused]) {
      const wait = msUntilAdmit(t.rate!, now)
      if (wait > 0) {
        if (wait < next) next = wait
        continue
      }
      this.paused.delete(t)
      // Closing or closed: nothing more to read. Connected: read on (what the decoder held first).
      if (t.state >= ConnState.Closing) continue
      t.decoder.resume()
      if (t.state === ConnState.Connected && this.paused.has(t) === false) t.stream.resume()
    }
    if (this.paused.size > 0) this.arm(next === Number.POSITIVE_INFINITY ? 1 : next)
  }

  forget(t: Throttled): void {
    this.paused.delete(t)
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.paused.clear()
  }
}

function onResumeTick(r: Resumer): void {
  r.tick()
}
