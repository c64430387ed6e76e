/**
 * The client's keepalive and ping(): PINGREQ when nothing else was sent for a while, the
 * connection given up when a PINGREQ goes unanswered for a keepalive, and callers waiting
 * for the PINGRESP of their own PINGREQ.
 */
import {TimeoutError} from '../errors.js'
import type {PacketWriter} from './writer.js'

const PINGREQ = Buffer.from([0xc0, 0x00])

/** What the keepalive needs of its client. */
export interface KeepaliveLink {
  readonly url: string
  destroy(error?: Error): void
}

function onTick(keepalive: Keepalive): void {
  keepalive.tick()
}

export class Keepalive {
  private timer: NodeJS.Timeout | undefined
  /** Keepalive ticks (half the keepalive each) since the unanswered PINGREQ; -1: none outstanding. */
  private ticks = -1
  /** ping(): each waits for the PINGRESP of the PINGREQ numbered `answer` (keepalive pings count too). */
  private waiters: Array<{answer: number; done: (error?: Error) => void}> = []
  private sent = 0
  private answered = 0

  constructor(
    private readonly link: KeepaliveLink,
    private readonly writer: PacketWriter,
    /** Milliseconds (0: none); the broker's Server Keep Alive replaces it at CONNACK. */
    public ms: number,
  ) {}

  /**
   * Ticks every half keepalive: MQTT wants no gap between our packets longer than the
   * keepalive, and with a tick per keepalive a packet sent just after one tick would let
   * the next ping wait almost two keepalives (brokers close after 1.5).
   */
  start(): void {
    if (this.ms > 0) this.timer = setInterval(onTick, Math.max(1, Math.floor(this.ms / 2)), this)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Every half keepalive: ping if we sent nothing since the last tick; give up if a ping got no answer within a keepalive. */
  tick(): void {
    if (this.ticks >= 0) {
      if (++this.ticks >= 2) {
        this.link.destroy(new TimeoutError(`${this.link.url}: no PINGRESP within the keepalive of ${this.ms / 1000} s: the broker or the network is not responding`))
        return
      }
    } else if (!this.writer.sentSinceTick) {
      this.ticks = 0
      this.sent++
      this.writer.send(PINGREQ)
    }
    this.writer.sentSinceTick = false
  }

  /** Sends PINGREQ; resolves at its PINGRESP, rejects if the connection closes first. */
  ping(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({answer: ++this.sent, done: (error) => (error ? reject(error) : resolve())})
      this.writer.send(PINGREQ)
    })
  }

  onPingresp(): void {
    this.ticks = -1
    this.answered++
    while (this.waiters.length > 0 && this.waiters[0].answer <= this.answered) this.waiters.shift()!.done()
  }

  /** The connection closed: every ping() still waiting fails with `error`. */
  failAll(error: Error): void {
    for (const w of this.waiters.splice(0)) w.done(error)
  }
}
