/**
 * JetStream acknowledgements of one turn's QoS 1/2 messages, without a promise per
 * message. A QoS 1/2 message goes to NATS with a reply subject (this node's ack inbox
 * and a number); the stream that captures it answers there once it is stored. The turn's
 * messages share one Turn; commit() (the end of the turn, turn-flush.ts) returns one
 * promise for them all, which the turn's PUBACK/PUBREC wait for: it resolves when every
 * one is stored, and rejects when one was refused, the answers took too long, or NATS
 * was unreachable, so the publisher gets PUBACK 0x80 (MQTT 5) or its connection closes
 * (3.1.1) rather than an acknowledgement of a message the cluster does not have.
 */
import type {Msg} from '@nats-io/transport-node'

interface Turn {
  tracker: AckTracker
  pending: number
  sealed: boolean
  error: string | undefined
  resolve: (() => void) | undefined
  reject: ((error: Error) => void) | undefined
  timer: NodeJS.Timeout | undefined
}

function newTurn(tracker: AckTracker): Turn {
  return {tracker, pending: 0, sealed: false, error: undefined, resolve: undefined, reject: undefined, timer: undefined}
}

function timedOut(t: Turn, ms: number): void {
  t.error ??= `JetStream did not answer within ${ms} ms`
  t.pending = 0
  t.tracker.forget(t)
  settle(t)
}

function settle(t: Turn): void {
  if (t.timer !== undefined) clearTimeout(t.timer)
  t.timer = undefined
  if (t.error === undefined) t.resolve?.()
  else t.reject?.(new Error(`the cluster did not store this turn's QoS 1/2 messages: ${t.error}`))
  t.resolve = t.reject = undefined
}

export class AckTracker {
  /** `INBOX.` : the subject prefix of this node's acknowledgements. */
  readonly inbox: string
  private readonly timeoutMs: number
  private next = 0
  private turn: Turn | undefined
  private readonly waiting = new Map<number, Turn>()

  constructor(inbox: string, timeoutMs: number) {
    this.inbox = inbox
    this.timeoutMs = timeoutMs
  }

  /** Messages sent and not yet acknowledged. */
  get outstanding(): number {
    return this.waiting.size
  }

  /** The reply subject of one more QoS 1/2 message of this turn. */
  reply(): string {
    const id = ++this.next
    const t = (this.turn ??= newTurn(this))
    t.pending++
    this.waiting.set(id, t)
    return this.inbox + id
  }

  /** This turn's QoS 1/2 message could not be sent (NATS unreachable): the turn fails. */
  fail(reason: string): void {
    const t = (this.turn ??= newTurn(this))
    t.error ??= reason
  }

  /** The end of the turn: one promise for its messages; undefined when it had none. */
  commit(): Promise<void> | undefined {
    const t = this.turn
    if (t === undefined) return undefined
    this.turn = undefined
    t.sealed = true
    const p = new Promise<void>((resolve, reject) => {
      t.resolve = resolve
      t.reject = reject
    })
    if (t.pending === 0) settle(t)
    else t.timer = setTimeout(timedOut, this.timeoutMs, t, this.timeoutMs)
    return p
  }

  /** An answer on the inbox: a PubAck, or an error (JetStream's, or 503 no responders: no stream). */
  onReply(msg: Msg): void {
    const id = Number(msg.subject.slice(this.inbox.length))
    const t = this.waiting.get(id)
    if (t === undefined) return
    this.waiting.delete(id)
    const h = msg.headers
    if (h !== undefined && h.hasError) t.error ??= `${h.code} ${h.description}`.trim()
    else if (msg.data.length === 0) t.error ??= 'an empty answer'
    else {
      const text = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length).toString()
      if (text.includes('"error"')) t.error ??= (JSON.parse(text) as {error?: {description?: string}}).error?.description ?? text
    }
    if (--t.pending === 0 && t.sealed) settle(t)
  }

  /** A turn that timed out: its late answers are no longer awaited. */
  forget(t: Turn): void {
    for (const [id, w] of this.waiting) if (w === t) this.waiting.delete(id)
  }

  /** Closing: everything still waiting fails. */
  close(): void {
    for (const t of new Set(this.waiting.values())) {
      t.error ??= 'the node is closing'
      t.pending = 0
      if (t.sealed) settle(t)
    }
    this.waiting.clear()
  }
}
