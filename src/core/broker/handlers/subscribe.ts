/**
 * SUBSCRIBE → SUBACK, then the retained messages of the new subscriptions
 * (MQTT 3.1.1 §3.8, 5.0 §3.8; retain handling 0/1/2 and shared subscriptions in 5.0).
 * Encoding rules (options bits, packet id, properties) were checked by protocol/validate.ts.
 *
 * Authorization may answer asynchronously (Auth.canSubscribe returns a promise): then the
 * connection's input waits, as during CONNECT, so its later packets keep their order.
 */
import {encode} from '../../protocol/codec.js'
import type {ISubscribePacket, QoS} from '../../protocol/codec.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import {parseSharedFilter, topicFilterProblem, topicLimitProblem} from '../../protocol/topic.js'
import type {SharedFilter} from '../../protocol/topic.js'
import type {ClientConnection} from '../connection.js'
import type {SubscriptionOptions} from '../session-state.js'
import {ConnState} from '../types.js'

/** One filter of a SUBSCRIBE on its way: its shared form and the QoS asked for, or the code it failed with. */
interface Wanted {
  filter: string
  share: SharedFilter | undefined
  qos: QoS
  nl: boolean
  rap: boolean
  rh: 0 | 1 | 2
  failed: number | undefined
}

export function handleSubscribe(client: ClientConnection, packet: ISubscribePacket): void {
  const ctx = client.ctx
  const limits = ctx.limits
  const v5 = client.version === 5
  const failure = v5 ? ReasonCode.UnspecifiedError : 0x80
  // MQTT-3.8.3-4: No Local on a shared subscription is a protocol error; it ends the connection before anything changes.
  for (const sub of packet.subscriptions) {
    if (sub.nl === true && typeof parseSharedFilter(sub.topic) === 'object') {
      client.protocolViolation(ReasonCode.ProtocolError, `No Local is set on the shared subscription "${sub.topic}"`)
      return
    }
  }
  const wanted: Wanted[] = []
  const decisions: Array<QoS | false | Promise<QoS | false>> = []
  let async = false
  for (const sub of packet.subscriptions) {
    const filter = sub.topic
    const shared = parseSharedFilter(filter)
    const w: Wanted = {filter, share: undefined, qos: Math.min(sub.qos, limits.maxQos) as QoS, nl: sub.nl === true, rap: sub.rap === true, rh: (sub.rh ?? 0) as 0 | 1 | 2, failed: undefined}
    wanted.push(w)
    if (typeof shared === 'string') {
      w.failed = v5 ? ReasonCode.TopicFilterInvalid : failure
      decisions.push(false)
      continue
    }
    w.share = shared
    const inner = shared === undefined ? filter : shared.filter
    if (topicFilterProblem(inner) !== undefined || topicLimitProblem(inner, limits.maxTopicLength, limits.maxTopicLevels) !== undefined) {
      w.failed = v5 ? ReasonCode.TopicFilterInvalid : failure
      decisions.push(false)
      continue
    }
    const d = ctx.auth.canSubscribe(client.principal!, filter, w.qos)
    if (typeof d === 'object') async = true
    decisions.push(d)
  }
  if (!async) {
    complete(client, packet, wanted, decisions as Array<QoS | false>)
    return
  }
  client.decoder.pause()
  client.stream.pause()
  Promise.all(decisions).then(
    (granted) => {
      if (client.state !== ConnState.Connected) return
      complete(client, packet, wanted, granted)
      client.decoder.resume()
      if (client.state === ConnState.Connected) client.stream.resume()
    },
    (error: Error) => client.protocolViolation(ReasonCode.UnspecifiedError, `SUBSCRIBE authorization failed: ${error.message}`),
  )
}

function complete(client: ClientConnection, packet: ISubscribePacket, wanted: Wanted[], decisions: Array<QoS | false>): void {
  const ctx = client.ctx
  const session = client.session!
  const v5 = client.version === 5
  const subscriptionId = packet.properties?.subscriptionIdentifier as number | undefined
  const granted: number[] = []
  const retainedFor: Array<[string, SubscriptionOptions]> = []
  for (let i = 0; i < wanted.length; i++) {
    const w = wanted[i]
    if (w.failed !== undefined) {
      granted.push(w.failed)
      continue
    }
    const qos = decisions[i]
    if (qos === false) {
      client.stats.deniedSubscribe++
      granted.push(v5 ? ReasonCode.NotAuthorized : 0x80)
      continue
    }
    const opts: SubscriptionOptions = {qos, noLocal: w.nl, retainAsPublished: w.rap, retainHandling: w.rh}
    if (subscriptionId !== undefined) opts.subscriptionId = subscriptionId
    const isNew = session.state.subscriptions?.has(w.filter) !== true
    ctx.subscriptions.add(session, w.filter, opts, w.share)
    granted.push(qos)
    // Retained messages are not sent for shared subscriptions (MQTT 5 §4.8.2).
    if (w.share === undefined && (opts.retainHandling === 0 || (opts.retainHandling === 1 && isNew))) retainedFor.push([w.filter, opts])
  }
  // SUBACK once the subscriptions are stored (a durable store's commit), then the retained messages.
  const suback = encode({cmd: 'suback', messageId: packet.messageId, granted}, client.version)
  if (retainedFor.length > 0 && ctx.retained.size > 0) ctx.flush.hold(client, suback, () => startRetained(client, retainedFor))
  else ctx.flush.hold(client, suback)
}

function startRetained(client: ClientConnection, subs: Array<[string, SubscriptionOptions]>): void {
  if (client.state !== ConnState.Connected) return
  sendRetained(client, subs).catch((error: Error) => client.protocolViolation(ReasonCode.UnspecifiedError, `reading retained messages failed: ${error.message}`))
}

/** Retained messages go out after the SUBACK, with the retain flag set (MQTT-3.3.1-8); expired ones are skipped. */
async function sendRetained(client: ClientConnection, subs: Array<[string, SubscriptionOptions]>): Promise<void> {
  const ctx = client.ctx
  const session = client.session!
  for (const [filter, opts] of subs) {
    for await (const message of ctx.retained.forFilter(filter)) {
      if (client.state !== ConnState.Connected) return
      const qos = Math.min(message.qos, opts.qos) as QoS
      ctx.delivery.deliverTo(session, message, qos, true, opts.subscriptionId === undefined ? undefined : [opts.subscriptionId])
    }
  }
}
