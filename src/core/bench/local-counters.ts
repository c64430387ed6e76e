/**
 * The delivery window when publishers and subscribers share the main thread (-w 1):
 * publishers park in a list, and a delivery resumes them directly.
 */
import {InflightGate} from './inflight.js'
import {STALL_MS} from './publisher.js'
import type {Parkable, PublisherCounters} from './publisher.js'
import type {Tally} from './subscriber.js'

export class LocalCounters implements PublisherCounters, Tally {
  sent = 0
  received = 0
  pubErrors = 0
  acked = 0
  /** hrtime of the last delivery, in ns (a Number: exact for 104 days of uptime, then within a few ns). */
  lastReceiveNs = 0
  /** Publishers paused by the delivery window, resumed by the subscribers. */
  readonly parked: Parkable[] = []
  /** Deliveries given up on: a broker that drops QoS 0 must not stall the window forever. */
  writtenOff = 0
  /** --inflight: deliveries per publisher, and the gate that reads them. */
  private readonly from: Float64Array | undefined
  private readonly gate: InflightGate | undefined
  private stallTimer: NodeJS.Timeout | undefined
  /** Deliveries when the stall timer was armed: any progress since means not stalled. */
  private stallMark = 0
  private readonly onStall = (): void => {
    this.stallTimer = undefined
    // A thread starved of CPU runs its timers before it reads its sockets: read what waits there first, then decide.
    if (this.parked.length > 0) setImmediate(this.confirmStall)
  }

  private readonly confirmStall = (): void => {
    if (this.parked.length === 0 || this.stallTimer !== undefined) return
    if (this.received !== this.stallMark) {
      // Deliveries still arrive (publishers may also have been resumed by acknowledgements): look again later,
      // and let publishers parked by their own in-flight limit look at theirs (the gate writes off what stalls).
      if (this.gate) this.wake()
      else this.armStall()
      return
    }
    this.writtenOff = this.sent * this.fanout - this.received
    this.wake()
  }

  constructor(
    /** Deliveries each message makes (the number of subscribers), for the window. */
    readonly fanout: number,
    readonly window: number,
    readonly inflight: number,
    publishers: number,
  ) {
    if (inflight > 0 && fanout > 0) {
      const from = new Float64Array(publishers)
      this.from = from
      this.gate = new InflightGate(inflight, fanout, publishers, (p) => from[p])
    }
  }

  delivered(publisher: number, nowNs: number): void {
    this.received++
    this.lastReceiveNs = nowNs
    if (this.from !== undefined && publisher >= 0 && publisher < this.from.length) this.from[publisher]++
    if (this.parked.length > 0) this.resume()
  }

  private armStall(): void {
    this.stallMark = this.received
    this.stallTimer = setTimeout(this.onStall, STALL_MS)
  }

  ahead(): number {
    return this.sent * this.fanout - this.received - this.writtenOff
  }

  inflightRoom(index: number, seq: number): number {
    return this.gate ? this.gate.room(index, seq) : Infinity
  }

  park(p: Parkable): void {
    if (!this.parked.includes(p)) this.parked.push(p)
    if (this.stallTimer === undefined) this.armStall()
  }

  /** Wakes parked publishers once the backlog has halved (the shared window, or a publisher's own). */
  private resume(): void {
    if (this.ahead() >= this.window / 2) return
    if (this.gate === undefined) {
      this.wake()
      return
    }
    const half = Math.max(1, Math.floor(this.inflight / 2))
    for (let i = this.parked.length - 1; i >= 0; i--) {
      const p = this.parked[i]
      if (this.gate.room(p.index, p.seq) >= half) {
        this.parked.splice(i, 1)
        setImmediate(p.pump)
      }
    }
    if (this.parked.length === 0 && this.stallTimer) {
      clearTimeout(this.stallTimer)
      this.stallTimer = undefined
    }
  }

  private wake(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer)
    this.stallTimer = undefined
    for (const p of this.parked) setImmediate(p.pump)
    this.parked.length = 0
  }
}
