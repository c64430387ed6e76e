/**
 * MQTT 5 outbound topic aliases (§3.3.2.3.4): when a client's CONNECT allows them (Topic
 * Alias Maximum > 0), the broker gives the topics it sends that client aliases 1..max. The
 * first PUBLISH on a topic carries the topic and its new alias; later ones carry the alias
 * and an empty topic, so a long topic crosses the wire once. When every alias is taken, the
 * least recently used one is given to the new topic (sent with the topic again). Aliases
 * belong to one network connection: a new connection starts with none.
 */
/** At most this many outbound aliases per connection, whatever the client allows (a Map entry each). */
export const MAX_OUTBOUND_ALIASES = 1024

export class OutboundAliases {
  /** Topic → alias, in order of last use (a Map keeps insertion order: re-inserting moves to the end). */
  private readonly byTopic = new Map<string, number>()
  private next = 1

  constructor(
    readonly max: number,
    /** Counts the topic bytes an alias saved (BrokerMetrics.topicAliasBytesSaved). */
    private readonly metrics: {topicAliasBytesSaved: number},
  ) {}

  /**
   * The alias to send `topic` with, and whether the client knows it already (then the
   * topic is left out of the PUBLISH).
   */
  aliasFor(topic: string): {alias: number; known: boolean} {
    const known = this.byTopic.get(topic)
    if (known !== undefined) {
      this.byTopic.delete(topic)
      this.byTopic.set(topic, known)
      this.metrics.topicAliasBytesSaved += Buffer.byteLength(topic)
      return {alias: known, known: true}
    }
    let alias: number
    if (this.next <= this.max) {
      alias = this.next++
    } else {
      const oldest = this.byTopic.keys().next().value as string
      alias = this.byTopic.get(oldest)!
      this.byTopic.delete(oldest)
    }
    this.byTopic.set(topic, alias)
    return {alias, known: false}
  }

  /** The PUBLISH that would have told the client this alias was not sent (too large): forget it. */
  forget(topic: string): void {
    this.byTopic.delete(topic)
  }
}
