import type {IPublishPacket, QoS} from '../protocol/codec.js'

/**
 * An application message as the broker keeps it: the inbound PUBLISH, shared by every
 * subscriber, queue and store that holds it (never copied per subscriber).
 */
export type Message = IPublishPacket

/** A message on its way to one client: QoS and retain as that client gets them. */
export interface Outgoing {
  message: Message
  qos: QoS
  retain: boolean
  /** Subscription identifiers of the matching subscriptions (MQTT 5). */
  subscriptionIds?: number[]
  packetId: number
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel'
}
