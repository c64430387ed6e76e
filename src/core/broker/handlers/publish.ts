/**
 * Inbound PUBLISH (MQTT 3.1.1 §3.3, 5.0 §3.3): check, resolve a topic alias, route,
 * acknowledge. No promise, no closure (unless an outside authorizer must be asked). Encoding rules (UTF-8, flags, packet id 0,
 * properties) were checked by protocol/validate.ts before the packet got here.
 */
import type {IPublishPacket} from '../../protocol/codec.js'
import {PacketType} from '../../protocol/encode.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import {topicLimitProblem, topicNameProblem} from '../../protocol/topic.js'
import type {ClientConnection} from '../connection.js'
import type {Message} from '../message.js'
import {stampExpiry} from '../message.js'
import {ConnState} from '../types.js'
import {overRate} from '../../guard/publish-rate.js'

export function handlePublish(client: ClientConnection, packet: IPublishPacket): void {
  const ctx = client.ctx
  const limits = ctx.limits
  const alias = packet.properties?.topicAlias
  if (alias !== undefined && !resolveTopicAlias(client, packet, alias)) return
  const topic = packet.topic
  // The decoder hands over the same string for a topic used again (Decoder.topicAt): checked once.
  if (topic !== client.lastCheckedTopic) {
    const problem = topicNameProblem(topic) ?? topicLimitProblem(topic, limits.maxTopicLength, limits.maxTopicLevels)
    if (problem !== undefined) {
      // Without a topic alias an empty topic is a protocol error (MQTT 5 §3.3.2.3.4); a wildcard makes the name invalid.
      client.protocolViolation(topic.length === 0 ? ReasonCode.ProtocolError : ReasonCode.TopicNameInvalid, `PUBLISH: ${problem}`)
      return
    }
    client.lastCheckedTopic = topic
  }
  const qos = packet.qos
  const id = packet.messageId ?? 0
  // MQTT-3.2.2-11/14: above the Maximum QoS, or retained where retain is not available.
  if (qos > limits.maxQos) {
    client.protocolViolation(ReasonCode.QoSNotSupported, `PUBLISH with QoS ${qos}; this broker allows at most QoS ${limits.maxQos}`)
    return
  }
  if (packet.retain && !limits.retainAvailable) {
    client.protocolViolation(ReasonCode.RetainNotSupported, 'PUBLISH with retain set; this broker does not support retained messages')
    return
  }
  const state = client.session!.state
  const awaiting = qos === 2 ? state.awaitingRel : undefined
  const duplicate = awaiting !== undefined && awaiting.has(id)
  if (awaiting !== undefined && client.version === 5 && awaiting.size >= limits.receiveMaximum && !duplicate) {
    // MQTT-3.3.4-9: more unreleased QoS 2 messages than the Receive Maximum we announced.
    client.protocolViolation(ReasonCode.ReceiveMaximumExceeded, `more than ${limits.receiveMaximum} QoS 2 messages awaiting PUBREL (the Receive Maximum)`)
    return
  }
  // limits.messageRate/byteRate (src/core/guard): over it, dropped or refused with 0x97, reading paused.
  if (client.rate !== undefined && !duplicate && overRate(client, packet)) return
  const allowed = ctx.auth.canPublish(client.principal!, topic, qos, packet.retain)
  if (allowed === true) route(client, packet, id, duplicate, client.decoder.publishWire)
  else if (allowed === false) refuse(client, packet, id)
  else awaitDecision(client, packet, id, duplicate, allowed)
}

/** Routes and acknowledges an authorized PUBLISH. */
function route(client: ClientConnection, packet: IPublishPacket, id: number, duplicate: boolean, wire: Buffer | undefined): void {
  const ctx = client.ctx
  const qos = packet.qos
  if (packet.properties?.messageExpiryInterval !== undefined) stampExpiry(packet as Message, Date.now())
  if (qos === 0) {
    ctx.delivery.publish(packet, client, wire)
  } else if (qos === 1) {
    const matched = ctx.delivery.publish(packet, client)
    ctx.flush.ack(client, PacketType.PUBACK, id, matched === 0 ? ReasonCode.NoMatchingSubscribers : 0)
  } else if (!duplicate) {
    // Exactly once: route on first receipt; a duplicate (same id before PUBREL) is only acknowledged.
    ctx.store.awaitRelease(client.session!.state, id)
    const matched = ctx.delivery.publish(packet, client)
    ctx.flush.ack(client, PacketType.PUBREC, id, matched === 0 ? ReasonCode.NoMatchingSubscribers : 0)
  } else {
    ctx.flush.ack(client, PacketType.PUBREC, id, 0)
  }
}

/** A PUBLISH the client may not make: MQTT 5 says why; 3.1.1 has no negative acknowledgement, so it is dropped quietly. */
function refuse(client: ClientConnection, packet: IPublishPacket, id: number): void {
  const ctx = client.ctx
  client.stats.deniedPublish++
  if (ctx.auth.disconnectOnDeny?.() === true) {
    client.close(ReasonCode.NotAuthorized, `PUBLISH to "${packet.topic}" is not authorized`)
    return
  }
  if (packet.qos === 1) ctx.flush.ack(client, PacketType.PUBACK, id, ReasonCode.NotAuthorized)
  else if (packet.qos === 2) ctx.flush.ack(client, PacketType.PUBREC, id, ReasonCode.NotAuthorized)
}

/** An outside authorizer is asked: the connection's input waits meanwhile, so later packets keep their order. */
function awaitDecision(client: ClientConnection, packet: IPublishPacket, id: number, duplicate: boolean, decision: Promise<boolean>): void {
  client.decoder.pause()
  client.stream.pause()
  decision.then(
    (ok) => {
      if (client.state !== ConnState.Connected) return
      if (ok) route(client, packet, id, duplicate, undefined)
      else refuse(client, packet, id)
      client.decoder.resume()
      if (client.state === ConnState.Connected) client.stream.resume()
    },
    (error: Error) => client.protocolViolation(ReasonCode.UnspecifiedError, `PUBLISH authorization failed: ${error.message}`),
  )
}

/**
 * MQTT 5 Topic Alias (§3.3.2.3.4): 1..Topic Alias Maximum; a topic sets the alias, an
 * empty topic uses it. The alias belongs to this connection, so it is removed from the
 * properties that subscribers get. Returns false when the connection was closed.
 */
function resolveTopicAlias(client: ClientConnection, packet: IPublishPacket, alias: number): boolean {
  const max = client.ctx.limits.topicAliasMaximum
  if (alias === 0 || alias > max) {
    // MQTT-3.3.2-8/9
    client.protocolViolation(ReasonCode.TopicAliasInvalid, max === 0 ? `topic alias ${alias} used, but the broker allows none` : `topic alias ${alias} is outside 1..${max}`)
    return false
  }
  const aliases = (client.topicAliases ??= new Array<string | undefined>(max + 1))
  if (packet.topic.length > 0) {
    aliases[alias] = packet.topic
  } else {
    const topic = aliases[alias]
    if (topic === undefined) {
      client.protocolViolation(ReasonCode.ProtocolError, `topic alias ${alias} used with an empty topic before any topic was set for it`)
      return false
    }
    packet.topic = topic
  }
  const {topicAlias: _alias, ...rest} = packet.properties!
  packet.properties = rest
  return true
}
