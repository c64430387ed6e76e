/**
 * One bench publisher: a state object whose bound methods drive the send loop, so the
 * loop allocates no promise or closure per message. Runs in the main thread or in a
 * publisher worker (publisher-worker.ts) alike.
 */
import type {MqttClient} from '../client/client.js'
import type {PublishOptions} from '../client/types.js'
import type {BenchPlan} from './plan.js'
import {stamp} from './stamp.js'

export const PACE_MS = 10
export const YIELD_EVERY = 256
/** Outstanding QoS 1/2 publishes per publisher when running flat out. */
export const QOS_WINDOW = 64
/**
 * Flat out, publishers may run at most this many deliveries ahead of the subscribers.
 * Without it a fast publisher measures only how fast the broker's queues grow (and starves
 * the subscribers sharing this process); with it, the rate is what the broker sustains.
 */
export const DELIVERY_WINDOW = 20_000
/**
 * With QoS 1/2, per subscriber. Brokers keep about 1000 such messages per subscriber by
 * default (Mosquitto max_queued_messages, EMQX max_mqueue_len, mqttws maxQueuedMessages)
 * and drop the rest after acknowledging them to the publisher: a generator running further
 * ahead would measure the drop policy instead of the throughput.
 */
export const QOS_DELIVERY_WINDOW = 500

/**
 * And at most this many bytes of messages ahead: brokers protect themselves from slow
 * consumers by bytes (mqttws drops QoS 0 to a connection with 1 MiB unsent, counting what a
 * socket is still writing), so a window of 20,000 large messages would measure that drop.
 */
export const DELIVERY_WINDOW_BYTES = 512 * 1024

/** Deliveries the publishers may run ahead of the subscribers, flat out. */
export function deliveryWindow(plan: Pick<BenchPlan, 'qos' | 'subscribers' | 'payloadSize' | 'topic'>): number {
  // Fixed header, topic length, topic (a few bytes more for %i), packet id, payload, WS frame header.
  const messageBytes = 2 + 2 + plan.topic.length + 4 + 2 + plan.payloadSize + 2
  const byBytes = Math.max(64, Math.floor(DELIVERY_WINDOW_BYTES / messageBytes))
  const subscribers = Math.max(1, plan.subscribers)
  return plan.qos === 0 ? Math.min(DELIVERY_WINDOW, byBytes) : Math.min(QOS_DELIVERY_WINDOW, byBytes) * subscribers
}
/** Parked this long without the backlog halving, the missing deliveries count as lost (dropped by the broker). */
export const STALL_MS = 250

/** A publisher the delivery window can pause and resume. */
export interface Parkable {
  /** The publisher's index in the plan, and what it sent so far. */
  readonly index: number
  readonly seq: number
  readonly pump: () => void
  /** The window (or its in-flight limit) still has no room for it. */
  windowFull(): boolean
}

/** What a publisher counts into and asks before sending flat out. */
export interface PublisherCounters {
  sent: number
  pubErrors: number
  acked: number
  /** Deliveries per message (subscribers); 0 disables the delivery window. */
  fanout: number
  /** How far ahead of the deliveries the publishers may run (deliveryWindow()). */
  readonly window: number
  /** Deliveries sent but not yet received (less those written off). */
  ahead(): number
  /** The window is full: resume `p.pump` later. */
  park(p: Parkable): void
  /** --inflight N (0: off): publishes each publisher may have unacknowledged (QoS 1/2), else QOS_WINDOW. */
  readonly inflight: number
  /** --inflight: messages publisher `index`, having sent `seq`, may still send before its deliveries catch up. */
  inflightRoom(index: number, seq: number): number
}

/** Room in the delivery window and in this publisher's in-flight limit, in messages (Infinity: unbounded). */
export function windowRoom(counters: PublisherCounters, index: number, seq: number, paced: boolean): number {
  const fanout = counters.fanout
  if (fanout === 0) return Infinity
  const shared = paced ? Infinity : Math.floor((counters.window - counters.ahead()) / fanout)
  return counters.inflight > 0 ? Math.min(shared, counters.inflightRoom(index, seq)) : shared
}

/** Unacknowledged QoS 1/2 publishes a publisher may have. */
export function qosWindow(counters: PublisherCounters): number {
  return counters.inflight > 0 ? counters.inflight : QOS_WINDOW
}

/** What every bench publisher shares: pacing, start and stop, and when it is done. */
export abstract class SendLoop {
  seq = 0
  outstanding = 0
  stopped = false
  readonly pump = (): void => this.run()
  protected paceTimer: NodeJS.Timeout | undefined
  private startNs = 0n

  constructor(
    readonly plan: BenchPlan,
    /** The publisher's number in the run (in each message's stamp). */
    readonly index: number,
    readonly counters: PublisherCounters,
  ) {}

  start(): void {
    this.startNs = process.hrtime.bigint()
    if (this.plan.rate > 0) this.paceTimer = setInterval(this.pump, PACE_MS)
    else this.run()
  }

  stop(): void {
    this.stopped = true
    if (this.paceTimer) clearInterval(this.paceTimer)
  }

  /** Still connected. */
  abstract live(): boolean

  done(): boolean {
    return this.stopped || (this.plan.count > 0 && this.seq >= this.plan.count) || !this.live()
  }

  /** The delivery window or this publisher's in-flight limit is full. */
  windowFull(): boolean {
    return windowRoom(this.counters, this.index, this.seq, this.plan.rate > 0) <= 0
  }

  /** Messages the pace (--rate) allows by now; Infinity unpaced. */
  protected due(): number {
    return this.plan.rate > 0 ? Math.floor((Number(process.hrtime.bigint() - this.startNs) / 1e9) * this.plan.rate) : Infinity
  }

  protected abstract run(): void
}

/** A publisher on a full MqttClient (the --ws-deflate path): one publish() per message. */
export class Publisher extends SendLoop implements Parkable {
  readonly payload: Buffer
  readonly options: PublishOptions
  readonly onAck = (error: Error | undefined): void => this.ack(error)

  constructor(
    readonly client: MqttClient,
    index: number,
    readonly topic: string,
    plan: BenchPlan,
    counters: PublisherCounters,
  ) {
    super(plan, index, counters)
    this.payload = Buffer.alloc(plan.payloadSize, 0x61)
    this.options = {qos: plan.qos, retain: false}
  }

  live(): boolean {
    return this.client.connected
  }

  protected run(): void {
    const paced = this.plan.rate > 0
    const due = this.due()
    let n = 0
    while (!this.done() && this.seq < due) {
      if (this.plan.qos > 0 && this.outstanding >= qosWindow(this.counters)) return // onAck resumes
      if (windowRoom(this.counters, this.index, this.seq, paced) <= 0) {
        if (!paced) this.counters.park(this) // a subscriber (or the stall timer) resumes us
        return
      }
      this.sendOne()
      if (!paced) {
        if (this.client.stream.writableNeedDrain) {
          this.client.stream.once('drain', this.pump)
          return
        }
        if (++n === YIELD_EVERY) {
          setImmediate(this.pump)
          return
        }
      }
    }
    if (this.done() && this.paceTimer) clearInterval(this.paceTimer)
  }

  private sendOne(): void {
    stamp(this.payload, this.index, this.seq, process.hrtime.bigint())
    this.seq++
    this.counters.sent++
    if (this.plan.qos === 0) {
      this.client.publish(this.topic, this.payload, this.options)
    } else {
      this.outstanding++
      this.client.publish(this.topic, this.payload, this.options, this.onAck)
    }
  }

  private ack(error: Error | undefined): void {
    this.outstanding--
    if (error) this.counters.pubErrors++
    else this.counters.acked++
    if (this.plan.rate === 0 && this.outstanding === qosWindow(this.counters) - 1) this.run()
  }
}

