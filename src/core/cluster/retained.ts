/**
 * Retained messages cluster-wide. Every node keeps a full replica of the retained
 * messages in its own RetainedStore (memory or SQLite), so a SUBSCRIBE on any node is
 * served from memory. A node's own retained PUBLISH (and the admin API's deletes) go to
 * its store at once and to the JetStream stream PREFIX_retained (subjects PREFIX.r.k.>,
 * one message per subject: the last one per topic); every node follows that stream from
 * its start (last message per subject) and applies what arrives, its own messages too,
 * so every replica ends in the stream's order. An empty payload clears the topic.
 */
import type {Message} from '../broker/message.js'
import type {RetainedStore} from '../broker/retained-store.js'

export class ClusterRetained implements RetainedStore {
  readonly inner: RetainedStore
  private readonly share: (message: Message) => void

  constructor(inner: RetainedStore, share: (message: Message) => void) {
    this.inner = inner
    this.share = share
  }

  get durable(): boolean {
    return this.inner.durable
  }

  get size(): number {
    return this.inner.size
  }

  get storedSize(): number {
    return this.inner.storedSize ?? this.inner.size
  }

  restore(): Promise<void> {
    return this.inner.restore()
  }

  has(topic: string): boolean {
    return this.inner.has(topic)
  }

  /** A retained message of this node: kept here and sent to the retained stream. */
  set(message: Message): void {
    this.inner.set(message)
    this.share(message)
  }

  /** A retained message from the stream (any node's): kept here only. */
  apply(message: Message): void {
    this.inner.set(message)
  }

  forFilter(filter: string): AsyncIterable<Message> {
    return this.inner.forFilter(filter)
  }

  commit(): Promise<void> | undefined {
    return this.inner.commit()
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}
