import {topicMatches} from '../protocol/topic.js'
import type {Message} from './message.js'
import {isExpired} from './message.js'

/** Where retained messages live. In memory by default; a durable store plugs in here. */
export interface RetainedStore {
  /** Stores the message, or clears the topic when its payload is empty. */
  set(message: Message): Promise<void>
  /** The retained messages matching `filter`; expired ones (MQTT 5 Message Expiry) are left out. */
  forFilter(filter: string): AsyncIterable<Message>
  readonly size: number
}

export class MemoryRetainedStore implements RetainedStore {
  private readonly byTopic = new Map<string, Message>()

  get size(): number {
    return this.byTopic.size
  }

  set(message: Message): Promise<void> {
    if (message.payload.length === 0) this.byTopic.delete(message.topic)
    else this.byTopic.set(message.topic, message)
    return Promise.resolve()
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

  /** Whether a message is still valid; an expired one is removed (MQTT-3.3.2-5). */
  private live(message: Message, now: number): boolean {
    if (!isExpired(message, now)) return true
    this.byTopic.delete(message.topic)
    return false
  }
}
