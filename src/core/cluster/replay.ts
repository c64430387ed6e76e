/**
 * Reading the messages stream (PREFIX_messages: every QoS 1/2 message of the cluster, kept
 * maxAgeSeconds) from a point in time to its end as it is now, through an ordered consumer:
 * how a node that takes over the session of a dead node finds the messages that session
 * got while its client was away (handover.ts).
 */
import type {NatsConnection} from '@nats-io/transport-node'

/** One stored message: its subject and envelope. */
export type ReplayVisit = (subject: string, data: Uint8Array) => void

/**
 * Visits every message of `stream` on `filter` stored at `since` (ms since the epoch) or later,
 * up to the stream's last message when the replay starts; resolves with how many, or rejects
 * after `timeoutMs` (what was visited stays visited).
 */
export async function replayStream(nc: NatsConnection, stream: string, filter: string, since: number, timeoutMs: number, visit: ReplayVisit): Promise<number> {
  const {jetstream, jetstreamManager, DeliverPolicy} = await import('@nats-io/jetstream')
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(stream)
  const last = info.state.last_seq
  if (info.state.messages === 0 || last === 0 || info.state.last_ts === undefined || Date.parse(info.state.last_ts) < since) return 0
  const consumer = await jetstream(nc).consumers.get(stream, {filter_subjects: filter, deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(since).toISOString()})
  if ((await consumer.info()).num_pending === 0) return 0
  const messages = await consumer.consume()
  let timer: NodeJS.Timeout | undefined
  let timedOut = false
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true
      resolve()
    }, timeoutMs)
  })
  let n = 0
  const read = (async () => {
    for await (const m of messages) {
      if (timedOut) break
      visit(m.subject, m.data)
      n++
      if (m.seq >= last || m.info.pending === 0) break
    }
  })()
  try {
    await Promise.race([read, deadline])
  } finally {
    clearTimeout(timer)
    void messages.close()
  }
  if (timedOut) throw new Error(`the messages stream was not read to its end within ${timeoutMs} ms (${n} messages read)`)
  return n
}
