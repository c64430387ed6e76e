/**
 * SUBSCRIBE → SUBACK, then the retained messages of the new subscriptions
 * (MQTT 3.1.1 §3.8, 5.0 §3.8; retain handling 0/1/2 and shared subscriptions in 5.0).
 * Encoding rules (options bits, packet id, properties) were checked by protocol/validate.ts.
 */
import {encode} from '../../protocol/codec.js'
import type {ISubscribePacket, QoS} from '../../protocol/codec.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import {parseSharedFilter, topicFilterProblem, topicLimitProblem} from '../../protocol/topic.js'
import type {SharedFilter} from '../../protocol/topic.js'
import {type Client, ClientState} from '../client.js'
import type {SubOpts} from '../session.js'

export function handleSubscribe(client: Client, packet: ISubscribePacket): void {
  const broker = client.broker
  const limits = broker.limits
  const session = client.session!
  const v5 = client.version === 5
  const failure = v5 ? ReasonCode.UnspecifiedError : 0x80
  const subscriptionId = packet.properties?.subscriptionIdentifier as number | undefined
  // MQTT-3.8.3-4: No Local on a shared subscription is a protocol error; it ends the connection before anything changes.
  for (const sub of packet.subscriptions) {
    if (sub.nl === true && typeof parseSharedFilter(sub.topic) === 'object') {
      client.protocolViolation(ReasonCode.ProtocolError, `No Local is set on the shared subscription "${sub.topic}"`)
      return
    }
  }
  const granted: number[] = []
  const retainedFor: Array<[string, SubOpts]> = []
  for (const sub of packet.subscriptions) {
    const filter = sub.topic
    const shared = parseSharedFilter(filter)
    if (typeof shared === 'string') {
      granted.push(v5 ? ReasonCode.TopicFilterInvalid : failure)
      continue
    }
    const inner = shared === undefined ? filter : shared.filter
    if (topicFilterProblem(inner) !== undefined || topicLimitProblem(inner, limits.maxTopicLength, limits.maxTopicLevels) !== undefined) {
      granted.push(v5 ? ReasonCode.TopicFilterInvalid : failure)
      continue
    }
    const wanted = Math.min(sub.qos, limits.maxQos) as QoS
    const qos = broker.auth.canSubscribe(client.clientId, filter, wanted)
    if (qos === false) {
      granted.push(v5 ? ReasonCode.NotAuthorized : failure)
      continue
    }
    const opts: SubOpts = {
      qos,
      noLocal: sub.nl === true,
      retainAsPublished: sub.rap === true,
      retainHandling: (sub.rh ?? 0) as 0 | 1 | 2,
    }
    if (subscriptionId !== undefined) opts.subscriptionId = subscriptionId
    const isNew = !session.subscriptions.has(filter)
    broker.addSubscription(session, filter, opts, shared as SharedFilter | undefined)
    granted.push(qos)
    // Retained messages are not sent for shared subscriptions (MQTT 5 §4.8.2).
    if (shared === undefined && (opts.retainHandling === 0 || (opts.retainHandling === 1 && isNew))) retainedFor.push([filter, opts])
  }
  client.send(encode({cmd: 'suback', messageId: packet.messageId, granted}, client.version))
  if (retainedFor.length > 0 && broker.retained.size > 0) {
    sendRetained(client, retainedFor).catch((error: Error) => broker.emit('clientError', client, error))
  }
}

/** Retained messages go out after the SUBACK, with the retain flag set (MQTT-3.3.1-8); expired ones are skipped. */
async function sendRetained(client: Client, subs: Array<[string, SubOpts]>): Promise<void> {
  const broker = client.broker
  const session = client.session!
  for (const [filter, opts] of subs) {
    for await (const message of broker.retained.forFilter(filter)) {
      if (client.state !== ClientState.Connected) return
      const qos = Math.min(message.qos, opts.qos) as QoS
      broker.deliver(session, message, qos, true, opts.subscriptionId === undefined ? undefined : [opts.subscriptionId])
    }
  }
}
