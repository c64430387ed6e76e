/**
 * Flapping detection (EMQX's, issue 13): more than N CONNECTs of one client id (and,
 * separately, from one address) within a window, and that id or address is banned for a
 * while. Counted at CONNECT before authentication, so guessing passwords is throttled too.
 * A fixed window per key (a start time and a count): no timer; stale keys are swept when the
 * table grows, so its size stays bounded.
 */
import type {FlappingConfig} from './config.js'

interface Window {
  start: number
  count: number
}

/** Keys kept before a sweep drops stale windows (and, if all are fresh, the oldest half). */
const MAX_KEYS = 100_000

export class FlapCounter {
  private readonly windows = new Map<string, Window>()
  private readonly windowMs: number

  constructor(windowMs: number) {
    this.windowMs = windowMs
  }

  /** Counts one CONNECT of `key`; returns the count within the current window. */
  hit(key: string, now: number): number {
    let w = this.windows.get(key)
    if (w === undefined || now - w.start >= this.windowMs) {
      if (w === undefined && this.windows.size >= MAX_KEYS) this.sweep(now)
      w = {start: now, count: 0}
      this.windows.set(key, w)
    }
    return ++w.count
  }

  forget(key: string): void {
    this.windows.delete(key)
  }

  get size(): number {
    return this.windows.size
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k)
    if (this.windows.size < MAX_KEYS) return
    let n = this.windows.size / 2
    for (const k of this.windows.keys()) {
      if (n-- <= 0) break
      this.windows.delete(k)
    }
  }
}

export type FlapVerdict = {kind: 'clientId' | 'address'; value: string; count: number} | undefined

export class FlappingDetector {
  readonly config: FlappingConfig
  private readonly ids: FlapCounter
  private readonly addresses: FlapCounter

  constructor(config: FlappingConfig) {
    this.config = config
    this.ids = new FlapCounter(config.windowMs)
    this.addresses = new FlapCounter(config.windowMs)
  }

  /** Counts a CONNECT; says which key went over its limit (the client id first), if any. */
  connect(clientId: string, address: string | undefined, now = Date.now()): FlapVerdict {
    const c = this.config
    const n = this.ids.hit(clientId, now)
    if (n > c.maxConnects) {
      this.ids.forget(clientId)
      return {kind: 'clientId', value: clientId, count: n}
    }
    if (c.maxConnectsPerAddress > 0 && address !== undefined) {
      const m = this.addresses.hit(address, now)
      if (m > c.maxConnectsPerAddress) {
        this.addresses.forget(address)
        return {kind: 'address', value: address, count: m}
      }
    }
    return undefined
  }
}
