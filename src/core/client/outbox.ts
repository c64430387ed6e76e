/**
 * What the client publishes: each PUBLISH checked against the limits the broker's CONNACK
 * announced (Maximum QoS, Retain Available, Topic Alias Maximum, Maximum Packet Size), QoS
 * 1/2 messages kept in flight until PUBACK or PUBREC/PUBCOMP, and held in a queue while
 * the broker's Receive Maximum is reached. No promise per message: callbacks.
 */
import type {IPubrecPacket, ProtocolVersion, QoS} from '../protocol/codec.js'
import {PacketType, encodeAck, encodePublish} from '../protocol/encode.js'
import type {InflightStore, PublishCallback} from './inflight-store.js'
import type {PacketIdAllocator} from './packet-id.js'
import {notAllowedError, refused, tooLargeError} from './refusals.js'
import type {PublishOptions} from './types.js'
import type {PacketWriter} from './writer.js'

/** The reason code a callback gets for a message that was not sent or not acknowledged. */
export const MAX_QOS_ERROR = 0x80

interface Queued {
  topic: string
  payload: Buffer
  options: PublishOptions
  callback: PublishCallback | undefined
}

/** What the outbox needs of its client. */
export interface OutboxLink {
  readonly url: string
  readonly connected: boolean
}

export function callPublished(callback: PublishCallback, error: Error | undefined, code: number): void {
  callback(error, code)
}

export class Outbox {
  /** The broker's Receive Maximum: QoS 1/2 messages in flight at most. */
  sendMaximum = 65535
  /** MQTT 5: the broker's Topic Alias Maximum (0: aliases not allowed) and Maximum Packet Size. */
  topicAliasMaximum = 0
  maximumPacketSize = Infinity
  /** MQTT 5: the broker's Maximum QoS and Retain Available (MQTT-3.2.2-11, -14). */
  maximumQoS: QoS = 2
  retainAvailable = true
  /** Size of the largest PUBLISH sent: what a 3.1.1 broker that closes the connection may have refused. */
  largestPublish = 0
  private readonly queue: Queued[] = []

  constructor(
    private readonly link: OutboxLink,
    private readonly writer: PacketWriter,
    private readonly version: ProtocolVersion,
    /** Shared with SUBSCRIBE and UNSUBSCRIBE: an id is unique across them all. */
    private readonly ids: PacketIdAllocator,
    private readonly inflight: InflightStore,
  ) {}

  /** Publishes on a connected client; the callback as MqttClient.publish says. */
  publish(topic: string, body: Buffer, options: PublishOptions, callback: PublishCallback | undefined): void {
    const qos = options.qos ?? 0
    // What the broker announced it does not take would get us disconnected: refuse it here.
    const alias = options.properties?.topicAlias
    if ((alias !== undefined && this.version === 5 && alias > this.topicAliasMaximum) || qos > this.maximumQoS || (options.retain === true && !this.retainAvailable)) {
      if (callback) process.nextTick(callPublished, callback, notAllowedError(this, qos, options.retain === true, alias), MAX_QOS_ERROR)
      return
    }
    if (qos === 0) {
      const encoded = encodePublish(this.version, topic, body, 0, options.retain === true, false, 0, this.version === 5 ? options.properties : undefined)
      if (encoded.length > this.maximumPacketSize) {
        if (callback) process.nextTick(callPublished, callback, this.tooLarge(encoded.length), MAX_QOS_ERROR)
        return
      }
      if (encoded.length > this.largestPublish) this.largestPublish = encoded.length
      this.writer.send(encoded)
      if (callback) process.nextTick(callPublished, callback, undefined, 0)
      return
    }
    if (this.inflight.size >= this.sendMaximum || this.queue.length > 0) {
      this.queue.push({topic, payload: body, options, callback})
      return
    }
    this.sendQos(topic, body, options, callback)
  }

  private sendQos(topic: string, payload: Buffer, options: PublishOptions, callback: PublishCallback | undefined): void {
    const id = this.ids.allocate()
    const qos = options.qos as QoS
    const encoded = encodePublish(this.version, topic, payload, qos, options.retain === true, options.dup === true, id, this.version === 5 ? options.properties : undefined)
    if (encoded.length > this.maximumPacketSize) {
      this.ids.release(id)
      if (callback) process.nextTick(callPublished, callback, this.tooLarge(encoded.length), MAX_QOS_ERROR)
      return
    }
    this.inflight.set({packetId: id, qos, state: 'publish', encoded, callback})
    if (encoded.length > this.largestPublish) this.largestPublish = encoded.length
    this.writer.send(encoded)
  }

  /** The message `id` is done (acknowledged, refused or lost): its callback runs and the queue moves up. */
  settle(id: number, error: Error | undefined, code: number): void {
    const entry = this.inflight.get(id)
    if (!entry) return
    this.inflight.delete(id)
    this.ids.release(id)
    if (entry.callback) entry.callback(error, code)
    while (this.queue.length > 0 && this.inflight.size < this.sendMaximum && this.link.connected) {
      const q = this.queue.shift()!
      this.sendQos(q.topic, q.payload, q.options, q.callback)
    }
  }

  /** QoS 2, step two: PUBREL for the broker's PUBREC (0x92 for an id we do not know), or the message refused. */
  onPubrec(packet: IPubrecPacket): void {
    const id = packet.messageId ?? 0
    const entry = this.inflight.get(id)
    const code = packet.reasonCode ?? 0
    if (!entry) {
      this.writer.send(encodeAck(PacketType.PUBREL, id, this.version, 0x92))
      return
    }
    if (code >= MAX_QOS_ERROR) return this.settle(id, refused('PUBREC', code, packet.properties?.reasonString), code)
    entry.state = 'pubrel'
    this.writer.send(encodeAck(PacketType.PUBREL, id, this.version))
  }

  /** The connection closed: every message in flight or queued fails with `error`. */
  failAll(error: Error): void {
    for (const e of [...this.inflight.values()]) this.settle(e.packetId, error, MAX_QOS_ERROR)
    for (const q of this.queue.splice(0)) q.callback?.(error, MAX_QOS_ERROR)
  }

  private tooLarge(size: number): Error {
    return tooLargeError(this.link.url, size, this.maximumPacketSize)
  }
}
