/**
 * The JetStream side of the cluster: the streams a node makes sure exist at start, and
 * the retained stream followed into the node's replica (retained.ts).
 */
import type {StreamConfig} from '@nats-io/jetstream'
import type {NatsConnection} from '@nats-io/transport-node'
import type {Message} from '../broker/message.js'
import type {Logger} from '../logger.js'
import {decodeEnvelope} from './envelope.js'
import type {EnvelopeMeta} from './envelope.js'
import type {SubjectMap} from './subjects.js'

export interface Follower {
  stop(): void
}

/** How long a node waits at start for the retained stream's replay before it serves anyway (logged). */
const REPLAY_WAIT_MS = 15_000

/** Creates (or updates) a stream with this configuration. */
async function ensureStream(nc: NatsConnection, config: Partial<StreamConfig> & {name: string}): Promise<void> {
  const {jetstreamManager} = await import('@nats-io/jetstream')
  const jsm = await jetstreamManager(nc)
  try {
    await jsm.streams.add(config)
  } catch (error) {
    // Made by another node (or an older version) with other settings: bring it in line.
    if (!/already in use/i.test((error as Error).message)) throw error
    await jsm.streams.update(config.name, config)
  }
}

/** The stream that stores QoS 1/2 messages (PREFIX.q.>) for maxAgeSeconds: their PUBACK waits for it (acks.ts). */
export async function ensureMessageStream(nc: NatsConnection, map: SubjectMap, replicas: number, maxAgeSeconds: number): Promise<void> {
  const {DiscardPolicy, StorageType} = await import('@nats-io/jetstream')
  await ensureStream(nc, {name: `${map.prefix}_messages`, subjects: [map.durable], num_replicas: replicas, storage: StorageType.File, discard: DiscardPolicy.Old, max_age: maxAgeSeconds * 1e9})
}

/**
 * Makes sure the retained stream exists, then follows it from the last message of every
 * topic on: `apply` gets each one (its own node's too). Resolves once the stream's
 * retained messages at start have been applied.
 */
export async function followRetained(nc: NatsConnection, map: SubjectMap, replicas: number, apply: (message: Message) => void, log: Logger): Promise<Follower> {
  const {jetstream, jetstreamManager, DeliverPolicy} = await import('@nats-io/jetstream')
  const name = `${map.prefix}_retained`
  const {DiscardPolicy, StorageType} = await import('@nats-io/jetstream')
  await ensureStream(nc, {name, subjects: [map.retainedAll], max_msgs_per_subject: 1, num_replicas: replicas, storage: StorageType.File, discard: DiscardPolicy.Old})
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(name)
  const consumer = await jetstream(nc).consumers.get(name, {filter_subjects: map.retainedAll, deliver_policy: DeliverPolicy.LastPerSubject})
  const messages = await consumer.consume()
  const meta: EnvelopeMeta = {origin: '', seq: 0}
  let replayed: () => void = () => {}
  const ready = new Promise<void>((resolve) => (replayed = resolve))
  if (info.state.messages === 0) replayed()
  void (async () => {
    for await (const m of messages) {
      const topic = map.retainedTopic(m.subject)
      // The expiry left is counted from when the stream stored the message.
      const message = decodeEnvelope(m.data, topic, meta, m.time.getTime())
      if (message !== undefined) apply(message)
      if (m.info.pending === 0) replayed()
    }
  })().catch((error: unknown) => log.error('cluster: following the retained stream failed', {error: (error as Error).message}))
  let timer: NodeJS.Timeout | undefined
  const waited = await Promise.race([ready.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, REPLAY_WAIT_MS, false)))])
  clearTimeout(timer)
  if (!waited) log.warn('cluster: the retained stream was not replayed in time; serving while it catches up', {stream: name})
  return {stop: () => void messages.close()}
}
