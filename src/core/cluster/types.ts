/** Types the cluster's modules share. */
import type {NatsConnection} from '@nats-io/transport-node'

/** Opens one NATS connection (transport-node's connect, with the options the bus sets). */
export type NatsConnect = (options: Record<string, unknown>) => Promise<NatsConnection>

export type ClusterStats = {
  /** Messages this node sent to NATS. */
  published: number
  /** QoS 0 messages not sent to NATS: no other node wanted them (remote-interest.ts). */
  keptLocal: number
  /** Messages this node received from NATS (its interest, its shared groups). */
  received: number
  /** Copies dropped (overlapping subscriptions of this node). */
  duplicates: number
  /** Envelopes this version cannot read. */
  malformed: number
  /** Publishes NATS refused (connection closed); local delivery went on. */
  publishErrors: number
  /** Retained messages whose topic is too long for a subject: kept on this node only. */
  retainedLocalOnly: number
  /** Clients of this node taken over by a connection on another node. */
  takenOver: number
  /** Wills of clients of dead nodes this node published. */
  willsPublished: number
}
