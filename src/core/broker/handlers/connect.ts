/**
 * CONNECT → CONNACK (MQTT 3.1 §3.1, 3.1.1 §3.1, 5.0 §3.1). Authentication and session
 * restore are asynchronous; packets that arrive meanwhile wait in the client's backlog.
 */
import {randomBytes} from 'node:crypto'
import {encode} from '../../protocol/codec.js'
import type {IConnackPacket, IConnectPacket, ProtocolVersion} from '../../protocol/codec.js'
import {ReasonCode, describeReasonCode, toV3ConnackCode} from '../../protocol/reason-codes.js'
import {topicNameProblem} from '../../protocol/topic.js'
import {type Client, ClientState} from '../client.js'

/** Session Expiry Interval meaning "never expires" (MQTT 5 §3.1.2.11.2). */
const NEVER = 0xffffffff

export function handleConnect(client: Client, packet: IConnectPacket): void {
  if (client.state !== ClientState.New) {
    // MQTT-3.1.0-2: a second CONNECT is a protocol violation.
    client.protocolViolation(ReasonCode.ProtocolError, 'a second CONNECT on the same connection')
    return
  }
  if (client.timer) clearTimeout(client.timer)
  client.timer = undefined
  client.state = ClientState.Connecting
  client.version = (packet.protocolVersion ?? 4) as ProtocolVersion
  client.backlog = []
  client.stream.pause()
  connect(client, packet).catch((error: Error) => {
    refuse(client, ReasonCode.UnspecifiedError, `CONNECT failed: ${error.message}`)
  })
}

function refuse(client: Client, reasonCode: number, reason: string): void {
  if (client.state >= ClientState.Closing) return
  const v5 = client.version === 5
  const connack: IConnackPacket = v5
    ? {cmd: 'connack', sessionPresent: false, reasonCode, properties: client.requestProblemInformation ? {reasonString: reason.slice(0, 200)} : undefined}
    : {cmd: 'connack', sessionPresent: false, returnCode: toV3ConnackCode(reasonCode)}
  client.sendNow(encode(connack, client.version))
  client.broker.emit('clientError', client, new Error(`CONNECT refused with ${describeReasonCode(reasonCode)}: ${reason}`))
  client.close(undefined, `CONNECT refused: ${reason}`)
}

async function connect(client: Client, packet: IConnectPacket): Promise<void> {
  const broker = client.broker
  const v5 = client.version === 5
  const props = packet.properties
  if (v5 && props?.requestProblemInformation === false) client.requestProblemInformation = false
  if (v5 && props?.authenticationMethod) {
    return refuse(client, ReasonCode.BadAuthenticationMethod, `authentication method "${props.authenticationMethod}" is not supported`)
  }
  if (packet.protocolId === 'MQIsdp' && client.version !== 3) {
    return refuse(client, ReasonCode.UnsupportedProtocolVersion, 'protocol name MQIsdp goes with protocol level 3 only')
  }
  if (packet.protocolId === 'MQTT' && client.version === 3) {
    return refuse(client, ReasonCode.UnsupportedProtocolVersion, 'protocol name MQTT goes with protocol level 4 or 5')
  }

  let clientId = packet.clientId
  let assigned = false
  if (clientId === '') {
    // 3.1 needs an id; 3.1.1 allows an empty one only with a clean session (MQTT-3.1.3-7/8).
    if (client.version === 3 || (client.version === 4 && !packet.clean)) {
      return refuse(client, ReasonCode.ClientIdentifierNotValid, 'an empty client id needs MQTT 3.1.1 with clean session, or MQTT 5')
    }
    clientId = `mqttws-${randomBytes(8).toString('hex')}`
    assigned = true
  }

  if (packet.will) {
    const problem = topicNameProblem(packet.will.topic)
    if (problem) return refuse(client, ReasonCode.TopicNameInvalid, `Will topic: ${problem}`)
  }

  const auth = await broker.auth.authenticate({
    clientId,
    username: packet.username,
    password: packet.password,
    remote: client.remote,
    listenerId: client.conn.listenerId,
    protocolVersion: client.version,
  })
  if (client.state !== ClientState.Connecting) return // closed meanwhile
  if (!auth.ok) return refuse(client, auth.reasonCode, auth.reason)

  client.clientId = clientId
  client.username = packet.username
  client.keepaliveMs = (packet.keepalive ?? 0) * 1000
  if (packet.will) {
    client.will = {
      cmd: 'publish',
      topic: packet.will.topic,
      payload: Buffer.isBuffer(packet.will.payload) ? packet.will.payload : Buffer.from(packet.will.payload ?? ''),
      qos: packet.will.qos ?? 0,
      retain: packet.will.retain === true,
      dup: false,
      properties: v5 ? forwardableWillProperties(packet.will.properties) : undefined,
    }
  }
  const expiry = v5 ? (props?.sessionExpiryInterval ?? 0) : packet.clean ? 0 : NEVER
  const receiveMaximum = v5 ? (props?.receiveMaximum ?? 65535) : 65535
  client.inflightMax = Math.min(receiveMaximum, broker.limits.maxInflight)

  const sessionPresent = await broker.attachSession(client, packet.clean !== false, expiry)
  if (client.state !== ClientState.Connecting) return

  const connack: IConnackPacket = {cmd: 'connack', sessionPresent}
  if (v5) {
    connack.reasonCode = 0
    connack.properties = {
      receiveMaximum: broker.limits.receiveMaximum,
      maximumPacketSize: broker.limits.maxPacketSize,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: false,
      topicAliasMaximum: 0,
    }
    if (assigned) connack.properties.assignedClientIdentifier = clientId
  } else {
    connack.returnCode = 0
  }
  client.state = ClientState.Connected
  client.send(encode(connack, client.version))
  client.lastSeen = Date.now()
  client.startKeepalive()
  broker.emit('client', client)
  broker.resumeDelivery(client)

  const backlog = client.backlog ?? []
  client.backlog = undefined
  for (const p of backlog) {
    if (client.state !== ClientState.Connected) break
    client.dispatch(p)
  }
  if (client.state === ClientState.Connected) client.stream.resume()
}

type WillProps = NonNullable<NonNullable<IConnectPacket['will']>['properties']>

/** The Will's message properties become the PUBLISH properties (delay is the broker's business). */
function forwardableWillProperties(p: WillProps | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined
  const {willDelayInterval: _delay, ...rest} = p
  return Object.keys(rest).length > 0 ? rest : undefined
}
