/**
 * QoS 0 messages to core NATS without nats.js's per-message work. `nc.publish` checks the
 * subject with a regular expression, builds the protocol line as a string, encodes it with a
 * TextEncoder and queues three buffers (line, payload, CRLF) that the flush then copies into
 * one; with the subject also made from the topic each time, that was about a third of a
 * sending node's CPU (node --cpu-prof, bench fan-in across two nodes). Here a topic's
 * `PUB SUBJECT ` bytes are made once (remembered for 10,000 topics), and each message is one
 * buffer, the whole PUB frame, written by encodeEnvelope and handed to the connection's
 * outbound queue (its protocol handler's sendCommand, as nc.publish does in the end).
 *
 * sendCommand is not part of nats.js's published interface: when a version of nats.js does not
 * have it, every message goes through nc.publish, as before (`fast` says which).
 */
import type {NatsConnection} from '@nats-io/transport-node'
import type {Message} from '../broker/message.js'
import {encodeEnvelope} from './envelope.js'
import type {SubjectMap} from './subjects.js'

/** The part of nats.js's protocol handler used here. */
interface Protocol {
  sendCommand(cmd: Uint8Array): void
  noMorePublishing?: boolean
}

interface Head {
  subject: string
  /** `PUB SUBJECT ` */
  bytes: Buffer
  /** The subject is the long one: the topic travels in the envelope. */
  long: boolean
}

/** Topics whose PUB line start is remembered; past this the memory starts over. */
const HEADS = 10_000

export class CorePublisher {
  private readonly nc: NatsConnection
  private readonly map: SubjectMap
  private readonly origin: Buffer
  private readonly protocol: Protocol | undefined
  private readonly heads = new Map<string, Head>()

  constructor(nc: NatsConnection, map: SubjectMap, origin: Buffer) {
    this.nc = nc
    this.map = map
    this.origin = origin
    const p = (nc as unknown as {protocol?: Protocol}).protocol
    this.protocol = typeof p?.sendCommand === 'function' ? p : undefined
  }

  /** Whether messages skip nc.publish. */
  get fast(): boolean {
    return this.protocol !== undefined
  }

  /** One QoS 0 message on its topic's subject; throws, as nc.publish does, when the connection is closed or too small for it. */
  publish(message: Message, seq: number, now: number): void {
    let head = this.heads.get(message.topic)
    if (head === undefined) {
      const subject = this.map.topicSubject(message.topic, false)
      head = {subject, bytes: Buffer.from(`PUB ${subject} `), long: subject === this.map.long}
      if (this.heads.size >= HEADS) this.heads.clear()
      this.heads.set(message.topic, head)
    }
    const p = this.protocol
    if (p === undefined) {
      this.nc.publish(head.subject, encodeEnvelope(message, this.origin, seq, head.long, now))
      return
    }
    if (this.nc.isClosed() || p.noMorePublishing === true) throw new Error('the NATS connection is closed')
    const frame = encodeEnvelope(message, this.origin, seq, head.long, now, head.bytes)
    const max = this.nc.info?.max_payload
    if (max !== undefined && frame.length - head.bytes.length > max) throw new Error(`the message is larger than the NATS server's max_payload (${max} bytes)`)
    p.sendCommand(frame)
  }
}
