/** Inbound PUBLISH (MQTT 3.1.1 §3.3, 5.0 §3.3): check, route, acknowledge. No promise, no closure. */
import type {IPublishPacket} from '../../protocol/codec.js'
import {PacketType, encodeAck} from '../../protocol/encode.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import {topicNameProblem} from '../../protocol/topic.js'
import type {Client} from '../client.js'

export function handlePublish(client: Client, packet: IPublishPacket): void {
  const props = packet.properties
  if (props !== undefined) {
    if (props.topicAlias !== undefined) {
      // We advertise Topic Alias Maximum 0, so any alias is invalid (MQTT-3.3.2-9).
      client.protocolViolation(ReasonCode.TopicAliasInvalid, `topic alias ${props.topicAlias} used, but the broker allows none`)
      return
    }
    if (props.subscriptionIdentifier !== undefined) {
      // MQTT-3.3.4-6: a client must not send a Subscription Identifier.
      client.protocolViolation(ReasonCode.ProtocolError, 'PUBLISH from a client carries a subscription identifier')
      return
    }
  }
  const problem = topicNameProblem(packet.topic)
  if (problem !== undefined) {
    // Without a topic alias an empty topic is a protocol error (MQTT 5 §3.3.2.3.4); a wildcard makes the name invalid.
    client.protocolViolation(packet.topic.length === 0 ? ReasonCode.ProtocolError : ReasonCode.TopicNameInvalid, `PUBLISH: ${problem}`)
    return
  }
  const broker = client.broker
  const qos = packet.qos
  const id = packet.messageId ?? 0
  if (qos > 0 && id === 0) {
    client.protocolViolation(ReasonCode.ProtocolError, 'QoS > 0 PUBLISH with packet identifier 0')
    return
  }
  if (!broker.auth.canPublish(client.clientId, packet.topic)) {
    // MQTT 5 says why; 3.1.1 has no negative acknowledgement, so the message is dropped quietly.
    if (qos === 1) client.send(encodeAck(PacketType.PUBACK, id, client.version, ReasonCode.NotAuthorized))
    else if (qos === 2) client.send(encodeAck(PacketType.PUBREC, id, client.version, ReasonCode.NotAuthorized))
    return
  }
  if (qos === 0) {
    broker.publish(packet, client)
  } else if (qos === 1) {
    broker.publish(packet, client)
    client.send(encodeAck(PacketType.PUBACK, id, client.version))
  } else {
    // Exactly once: route on first receipt; a duplicate (same id before PUBREL) is only acknowledged.
    const awaiting = client.session!.awaitingRel
    if (!awaiting.has(id)) {
      awaiting.add(id)
      broker.publish(packet, client)
    }
    client.send(encodeAck(PacketType.PUBREC, id, client.version))
  }
}
