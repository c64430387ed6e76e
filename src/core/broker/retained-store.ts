import {topicMatches} from '../protocol/topic.js'
import type {Message} from './message.js'

/** Where retained messages live. In memory by default; a durable store plugs in here. */
export interface RetainedStore {
  /** Stores the message, or clears the topic when its payload is empty. */
  set(message: Message): Promise<void>
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
    const exact = !filter.includes('+') && !filter.includes('#')
    if (exact) {
      const m = this.byTopic.get(filter)
      if (m) yield m
      return
    }
    for (const [topic, message] of this.byTopic) if (topicMatches(filter, topic)) yield message
  }
}
