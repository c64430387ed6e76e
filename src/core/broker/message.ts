import type {IPublishPacket} from '../protocol/codec.js'

/**
 * An application message as the broker keeps it: the inbound PUBLISH, shared by every
 * subscriber, queue and store that holds it (never copied per subscriber).
 */
export type Message = IPublishPacket & {
  /** MQTT 5 Message Expiry: when the message expires (ms since the epoch); absent when it never does. */
  expiresAt?: number
  /** A retained message: when it was retained (ms since the epoch). */
  storedAt?: number
  /** A retained message: the client id that published it (absent for the broker's own and Wills). */
  publisher?: string
}

/** Starts the Message Expiry clock of a message that carries a Message Expiry Interval. */
export function stampExpiry(message: Message, now: number): void {
  const interval = message.properties?.messageExpiryInterval
  if (interval !== undefined) message.expiresAt = now + interval * 1000
}

/** Whether the message has expired (MQTT-3.3.2-5: it is then not delivered). */
export function isExpired(message: Message, now: number): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= now
}

/** Bytes a queued message accounts for against maxQueuedBytes: topic and payload. */
export function queuedSize(message: Message): number {
  return message.topic.length + message.payload.length
}
