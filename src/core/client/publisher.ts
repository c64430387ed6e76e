/** What `pub` does once connected: send each payload (repeated if asked), wait for every acknowledgement. */
import type {QoS} from '../protocol/codec.js'
import type {PublishProperties} from '../protocol/encode.js'
import type {MqttClient} from './client.js'
import type {PublishOptions} from './types.js'

export interface PublishPlan {
  topic: string
  qos: QoS
  retain: boolean
  properties?: PublishProperties
  /** Times each payload is sent (default 1). */
  repeat?: number
  /** Pause between repeats. */
  repeatDelayMs?: number
}

export interface SentMessage {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  /** MQTT 5 reason code of the acknowledgement (0 for QoS 0). */
  reasonCode: number
}

/** Unacknowledged messages allowed before reading more input (the client queues past Receive Maximum). */
const MAX_PENDING = 1000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Counts outstanding publishes with one callback per plan, not a promise per message. */
class Tracker {
  pending = 0
  firstError: Error | undefined
  private waiter: (() => void) | undefined
  private waitBelow = 0
  readonly done: (error: Error | undefined, reasonCode: number) => void

  constructor(
    private readonly plan: PublishPlan,
    private readonly onSent: ((m: SentMessage) => void) | undefined,
    private readonly payloads: Buffer[],
  ) {
    // Acknowledgements arrive in the order of sending for one topic (MQTT ordering), so the
    // payload of each is the oldest one still waiting; kept only when onSent wants it.
    this.done = (error, reasonCode) => {
      this.pending--
      const payload = this.onSent ? this.payloads.shift()! : undefined
      if (error) this.firstError ??= error
      else if (this.onSent) this.onSent({topic: this.plan.topic, payload: payload!, qos: this.plan.qos, retain: this.plan.retain, reasonCode})
      if (this.waiter && this.pending <= this.waitBelow) {
        const w = this.waiter
        this.waiter = undefined
        w()
      }
    }
  }

  /** Resolves once at most `n` publishes are outstanding (or at once). */
  below(n: number): Promise<void> | undefined {
    if (this.pending <= n) return undefined
    this.waitBelow = n
    return new Promise((resolve) => {
      this.waiter = resolve
    })
  }
}

/**
 * Publishes every payload from `payloads` (a stream, so stdin lines go out as they come).
 * Acknowledgements are awaited together at the end, so QoS 1/2 messages pipeline up to the
 * broker's Receive Maximum; input is read ahead of the acknowledgements by at most
 * MAX_PENDING messages, and QoS 0 waits for the socket to drain. Rejects on the first
 * refusal or a lost connection.
 */
export async function publishAll(
  client: MqttClient,
  payloads: AsyncIterable<Buffer> | Iterable<Buffer>,
  plan: PublishPlan,
  onSent?: (m: SentMessage) => void,
): Promise<number> {
  const repeat = plan.repeat ?? 1
  const options: PublishOptions = {qos: plan.qos, retain: plan.retain, properties: plan.properties}
  const sentPayloads: Buffer[] = []
  const tracker = new Tracker(plan, onSent, sentPayloads)
  let count = 0
  // Streamed input (stdin lines) may wait forever for the next line: a lost connection
  // must end the wait, not the next line.
  const isAsync = Symbol.asyncIterator in payloads
  const iterator = isAsync ? (payloads as AsyncIterable<Buffer>)[Symbol.asyncIterator]() : (payloads as Iterable<Buffer>)[Symbol.iterator]()
  let onClose: ((error: Error | undefined) => void) | undefined
  const closed = isAsync ? new Promise<{closed: Error}>((resolve) => client.once('close', (onClose = (error) => resolve({closed: error ?? new Error(`${client.url}: the connection was closed`)})))) : undefined
  try {
    for (;;) {
      const next = closed ? await Promise.race([iterator.next(), closed]) : (iterator.next() as IteratorResult<Buffer>)
      if ('closed' in next) throw next.closed
      if (next.done) break
      count = await publishOne(client, next.value, plan, options, repeat, count, tracker, onSent ? sentPayloads : undefined)
    }
  } finally {
    if (onClose) client.off('close', onClose)
    // Ends a generator that is not waiting; one waiting for stdin is ended by the caller (pub closes stdin).
    if (closed) void iterator.return?.()
  }
  await tracker.below(0)
  if (tracker.firstError) throw tracker.firstError
  return count
}

async function publishOne(
  client: MqttClient,
  payload: Buffer,
  plan: PublishPlan,
  options: PublishOptions,
  repeat: number,
  count: number,
  tracker: Tracker,
  sentPayloads: Buffer[] | undefined,
): Promise<number> {
  for (let i = 0; i < repeat; i++) {
    if (tracker.firstError) throw tracker.firstError
    if (i > 0 && plan.repeatDelayMs) await sleep(plan.repeatDelayMs)
    count++
    tracker.pending++
    if (sentPayloads) sentPayloads.push(payload)
    client.publish(plan.topic, payload, options, tracker.done)
    await tracker.below(MAX_PENDING)
    if (plan.qos === 0 && client.stream.writableNeedDrain) await drainOrClose(client)
  }
  return count
}

function drainOrClose(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      client.stream.off('drain', done)
      client.off('close', done)
      resolve()
    }
    client.stream.once('drain', done)
    client.once('close', done)
  })
}
