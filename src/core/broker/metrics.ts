/**
 * Broker-wide counters: plain integers on a plain object, incremented where things
 * happen (no allocation, nothing measurable on the hot path). Read them from
 * `broker.metrics`; docs/broker.md says what each one counts.
 */
export interface BrokerMetrics {
  /** Messages dropped because a session queue hit maxQueuedMessages or maxQueuedBytes. */
  queueDropped: number
  /** QoS 0 messages dropped because the receiving connection was congested (slow consumer). */
  slowConsumerDropped: number
  /** Connections closed because their output did not drain within drainTimeoutMs. */
  slowConsumerDisconnects: number
  /** Messages not sent because they exceeded the receiver's Maximum Packet Size. */
  tooLargeDropped: number
  /** Messages discarded because their Message Expiry Interval passed before delivery. */
  expired: number
  /** Sockets closed at once because their listener had maxConnections open. */
  connectionsRefused: number
  /** Messages published to a topic nobody subscribes to. */
  noSubscribers: number
  /** Store commits that failed (their acknowledgements were refused). */
  storeErrors: number
  /** Retained PUBLISHes delivered but not kept: over maxRetainedMessages or maxRetainedPayload. */
  retainedDropped: number
  /** Topic bytes not sent because an MQTT 5 topic alias stood for them (clients that allow aliases). */
  topicAliasBytesSaved: number
}

export function newBrokerMetrics(): BrokerMetrics {
  return {
    queueDropped: 0,
    slowConsumerDropped: 0,
    slowConsumerDisconnects: 0,
    tooLargeDropped: 0,
    expired: 0,
    connectionsRefused: 0,
    noSubscribers: 0,
    storeErrors: 0,
    retainedDropped: 0,
    topicAliasBytesSaved: 0,
  }
}
