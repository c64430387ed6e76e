/**
 * A session's message queue: FIFO, bounded by a message count and a byte count, with a
 * drop policy for when it is full. Shift is O(1) (a moving head, compacted now and then),
 * so a queue of a million messages drains as fast as one of ten.
 */
import type {QueueOverflow} from '../config.js'
import type {Queued} from './session-state.js'
import {queuedSize} from './message.js'

export interface QueueLimits {
  maxQueuedMessages: number
  maxQueuedBytes: number
  queueOverflow: QueueOverflow
}

export class MessageQueue {
  private items: Array<Queued | undefined> = []
  private head = 0
  /** Bytes held (topic + payload of each message). */
  bytes = 0

  get length(): number {
    return this.items.length - this.head
  }

  /**
   * Appends a message. When that would exceed a limit, the policy drops the oldest
   * messages until it fits, or the new one. Returns how many messages were dropped; with
   * `droppedOut`, the dropped messages are appended to it (a durable store deletes them).
   */
  push(item: Queued, limits: QueueLimits, droppedOut?: Queued[]): number {
    const size = queuedSize(item.message)
    if (limits.maxQueuedMessages === 0 || size > limits.maxQueuedBytes) {
      droppedOut?.push(item)
      return 1
    }
    const maxMessages = limits.maxQueuedMessages
    const maxBytes = limits.maxQueuedBytes - size
    let dropped = 0
    if (this.length >= maxMessages || this.bytes > maxBytes) {
      if (limits.queueOverflow === 'drop-newest') {
        droppedOut?.push(item)
        return 1
      }
      while (this.length > 0 && (this.length >= maxMessages || this.bytes > maxBytes)) {
        const old = this.shift()!
        droppedOut?.push(old)
        dropped++
      }
    }
    this.items.push(item)
    this.bytes += size
    return dropped
  }

  /** The oldest message, removed; undefined when empty. */
  shift(): Queued | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]!
    this.items[this.head++] = undefined
    this.bytes -= queuedSize(item.message)
    if (this.head === this.items.length) {
      this.items.length = 0
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Removes and returns the messages for which `take` is true, keeping the order of the rest. */
  extract(take: (q: Queued) => boolean): Queued[] {
    const out: Queued[] = []
    const keep: Queued[] = []
    for (let i = this.head; i < this.items.length; i++) {
      const q = this.items[i]!
      if (take(q)) out.push(q)
      else keep.push(q)
    }
    this.items = keep
    this.head = 0
    this.bytes = 0
    for (const q of keep) this.bytes += queuedSize(q.message)
    return out
  }

  /** The messages in order, oldest first (for a store that writes a whole session). */
  *[Symbol.iterator](): IterableIterator<Queued> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!
  }

  clear(): void {
    this.items = []
    this.head = 0
    this.bytes = 0
  }
}
