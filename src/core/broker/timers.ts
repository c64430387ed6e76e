/**
 * A timer for deadlines that may lie beyond setTimeout's reach (2^31-1 ms, about 24.8
 * days; Node fires longer ones after 1 ms): it re-arms until the deadline has passed.
 * Used for session expiry and Will Delay, never per message.
 */
const MAX_DELAY = 2_147_483_647

export class Deadline<C> {
  private timer: NodeJS.Timeout | undefined
  private readonly at: number
  private readonly fn: (ctx: C) => void
  private readonly ctx: C

  constructor(delayMs: number, fn: (ctx: C) => void, ctx: C) {
    this.at = Date.now() + delayMs
    this.fn = fn
    this.ctx = ctx
    this.arm()
  }

  private arm(): void {
    const left = Math.max(0, this.at - Date.now())
    const timer: NodeJS.Timeout = setTimeout(fire, Math.min(left, MAX_DELAY), this as Deadline<unknown>)
    timer.unref()
    this.timer = timer
  }

  /** Runs the callback if the deadline has passed, or waits some more. */
  check(): void {
    this.timer = undefined
    if (Date.now() >= this.at) this.fn(this.ctx)
    else this.arm()
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}

function fire(d: Deadline<unknown>): void {
  d.check()
}
