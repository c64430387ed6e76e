/**
 * SUBSCRIBE → SUBACK, then the retained messages of the new subscriptions
 * (MQTT 3.1.1 §3.8, 5.0 §3.8; retain handling 0/1/2 in 5.0).
 */
import {encode} from '../../protocol/codec.js'
import type {ISubscribePacket, QoS} from '../../protocol/codec.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import {topicFilterProblem} from '../../protocol/topic.js'
import {type Client, ClientState} from '../client.js'
import type {SubOpts} from '../session.js'

export function handleSubscribe(client: Client, packet: ISubscribePacket): void {
  const broker = client.broker
  const session = client.session!
  const v5 = client.version === 5
  const failure = v5 ? ReasonCode.UnspecifiedError : 0x80
  if (packet.subscriptions.length === 0) {
    // MQTT-3.8.3-3: a SUBSCRIBE must carry at least one topic filter.
    client.protocolViolation(ReasonCode.ProtocolError, 'SUBSCRIBE without any topic filter')
    return
  }
  const subscriptionId = packet.properties?.subscriptionIdentifier
  if (subscriptionId === 0) {
    client.protocolViolation(ReasonCode.ProtocolError, 'subscription identifier 0 is not allowed')
    return
  }
  const granted: number[] = []
  const retainedFor: Array<[string, SubOpts]> = []
  for (const sub of packet.subscriptions) {
    const filter = sub.topic
    if (topicFilterProblem(filter) !== undefined) {
      granted.push(v5 ? ReasonCode.TopicFilterInvalid : failure)
      continue
    }
    if (filter.startsWith('$share/') || filter.startsWith('$queue/')) {
      granted.push(v5 ? ReasonCode.SharedSubscriptionsNotSupported : failure)
      continue
    }
    const qos = broker.auth.canSubscribe(client.clientId, filter, Math.min(sub.qos, 2) as QoS)
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
    if (subscriptionId !== undefined) opts.subscriptionId = Array.isArray(subscriptionId) ? subscriptionId[0] : subscriptionId
    const isNew = !session.subscriptions.has(filter)
    session.subscriptions.set(filter, opts)
    broker.router.add(filter, session, opts)
    granted.push(qos)
    if (opts.retainHandling === 0 || (opts.retainHandling === 1 && isNew)) retainedFor.push([filter, opts])
  }
  client.send(encode({cmd: 'suback', messageId: packet.messageId, granted}, client.version))
  if (retainedFor.length > 0 && broker.retained.size > 0) {
    sendRetained(client, retainedFor).catch((error: Error) => broker.emit('clientError', client, error))
  }
}

/** Retained messages go out after the SUBACK, with the retain flag set (MQTT-3.3.1-8). */
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
