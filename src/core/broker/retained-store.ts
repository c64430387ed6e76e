import {topicMatches} from '../protocol/topic.js'
import type {Message} from './message.js'
import {isExpired} from './message.js'

/**
 * Where retained messages live. As with SessionStore, `set` is synchronous (it records the
 * change) and `commit()` writes what one event-loop turn recorded; the memory store has
 * nothing to write.
 */
export interface RetainedStore {
  readonly durable: boolean
  readonly size: number
  /** Optional: how many count toward limits.maxRetainedMessages (the broker's own $SYS entries do not); default: size. */
  readonly storedSize?: number
  /** Reads what is stored, at start. */
  restore(): Promise<void>
  /** Whether a message is retained for the topic. */
  has(topic: string): boolean
  /** Stores the message, or clears the topic when its payload is empty. */
  set(message: Message): void
  /** The retained messages matching `filter`; expired ones (MQTT 5 Message Expiry) are left out. */
  forFilter(filter: string): AsyncIterable<Message>
  commit(): Promise<void> | undefined
  close(): Promise<void>
}

export class MemoryRetainedStore implements RetainedStore {
  readonly durable: boolean = false
  protected readonly byTopic = new Map<string, Message>()

  get size(): number {
    return this.byTopic.size
  }

  restore(): Promise<void> {
    return Promise.resolve()
  }

  has(topic: string): boolean {
    return this.byTopic.has(topic)
  }

  set(message: Message): void {
    if (message.payload.length === 0) this.byTopic.delete(message.topic)
    else this.byTopic.set(message.topic, message)
  }

  async *forFilter(filter: string): AsyncIterable<Message> {
    const now = Date.now()
    const exact = !filter.includes('+') && !filter.includes('#')
    if (exact) {
      const m = this.byTopic.get(filter)
      if (m && this.live(m, now)) yield m
      return
    }
    for (const [topic, message] of this.byTopic) if (topicMatches(filter, topic) && this.live(message, now)) yield message
  }

  commit(): Promise<void> | undefined {
    return undefined
  }

  close(): Promise<void> {
    return Promise.resolve()
  }

  /** Whether a message is still valid; an expired one is removed (MQTT-3.3.2-5). */
  private live(message: Message, now: number): boolean {
    if (!isExpired(message, now)) return true
    this.forget(message.topic)
    return false
  }

  /** Removes an expired message. */
  protected forget(topic: string): void {
    this.byTopic.delete(topic)
  }
}
