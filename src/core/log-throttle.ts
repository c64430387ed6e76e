/**
 * Keeps a storm of refusals (wrong passwords, bad tokens, refused handshakes) from flooding
 * the log: in each window (10 s by default) the first `burst` are logged as they come, the
 * rest are only counted, by reason, and one summary line says how many were left out
 * ("… 950 more refusals in the last 10 s, by reason"). The counters the broker keeps
 * (listener stats, metrics) are not touched: they stay exact. One timer, armed only while
 * something waits to be summed up, and unref'd.
 */
import type {LogFields, Logger} from './logger.js'

export interface LogThrottleOptions {
  /** Lines logged as they come in each window (default 5). */
  burst?: number
  /** The window (default 10 000 ms). */
  windowMs?: number
  /** What the lines are about, for the summary ("refusals", "handshake rejections"). */
  what?: string
}

function onWindowEnd(t: LogThrottle): void {
  t.flush()
}

export class LogThrottle {
  private readonly burst: number
  private readonly windowMs: number
  private readonly what: string
  private windowStart = 0
  private logged = 0
  private suppressed = 0
  private byReason: Record<string, number> = {}
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly log: Logger,
    options: LogThrottleOptions = {},
  ) {
    this.burst = options.burst ?? 5
    this.windowMs = options.windowMs ?? 10_000
    this.what = options.what ?? 'refusals'
  }

  /** Logs the line (at `level`) unless this window's burst is spent; then it is counted under `reason`. */
  note(level: 'warn' | 'info', reason: string, msg: string, fields: LogFields): void {
    const now = Date.now()
    if (now - this.windowStart >= this.windowMs) {
      this.flush()
      this.windowStart = now
    }
    if (this.logged < this.burst) {
      this.logged++
      this.log[level](msg, fields)
      return
    }
    this.suppressed++
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1
    this.timer ??= setTimeout(onWindowEnd, Math.max(1, this.windowStart + this.windowMs - now), this).unref()
  }

  /** Writes the summary of what was left out (if anything) and starts a new window. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.suppressed > 0) {
      const seconds = Number((this.windowMs / 1000).toFixed(3))
      const reasons = Object.entries(this.byReason)
        .sort((a, b) => b[1] - a[1])
        .map(([r, n]) => `${n} ${r}`)
        .join(', ')
      this.log.warn(`… ${this.suppressed} more ${this.what} in the last ${seconds} s, by reason: ${reasons}`, {suppressed: this.suppressed, windowSeconds: seconds, byReason: this.byReason})
    }
    this.suppressed = 0
    this.byReason = {}
    this.logged = 0
    this.windowStart = Date.now()
  }
}
