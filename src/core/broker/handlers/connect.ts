/**
 * CONNECT → CONNACK (MQTT 3.1 §3.1, 3.1.1 §3.1, 5.0 §3.1). Authentication and session
 * restore answer at once when they can (no authenticator, a session in memory): the CONNACK
 * then goes out in the same turn. When one of them must wait (a password file, an HTTP
 * authenticator, the cluster's session store), the decoder and the stream are paused, so that
 * what the client sent behind its CONNECT waits as bytes, and is decoded after CONNACK.
 */
import {randomBytes} from 'node:crypto'
import {encode} from '../../protocol/codec.js'
import {CONNACK_ACCEPTED} from '../../protocol/encode.js'
import type {IConnackPacket, IConnectPacket, ProtocolVersion} from '../../protocol/codec.js'
import {ReasonCode, describeReasonCode, toV3ConnackCode} from '../../protocol/reason-codes.js'
import {topicLimitProblem, topicNameProblem} from '../../protocol/topic.js'
import {ErrorCode, ProtocolError} from '../../errors.js'
import {MAX_OUTBOUND_ALIASES, OutboundAliases} from '../topic-aliases.js'
import {newClientRate} from '../../guard/rate-limit.js'
import {countRejected} from '../../transport/listener-stats.js'
import {principalOf} from '../auth.js'
import type {AuthResult, ConnectInfo, Principal} from '../auth.js'
import {isPromise} from '../../maybe-async.js'
import {agreeMethod, runConnectExchange} from './auth.js'
import type {ClientConnection} from '../connection.js'
import {ConnState} from '../types.js'
import {countAuthFailure} from '../../transport/listener-stats.js'

import {NEVER_EXPIRES} from '../session-state.js'

/**
 * Response Information sent to clients that ask for it (MQTT 5 §3.2.2.3.15): a topic
 * prefix the client may build its response topics on.
 */
export const RESPONSE_PREFIX = 'mqttws/response/'

export function handleConnect(client: ClientConnection, packet: IConnectPacket): void {
  if (client.state !== ConnState.New) {
    // MQTT-3.1.0-2: a second CONNECT is a protocol violation.
    client.protocolViolation(ReasonCode.ProtocolError, 'a second CONNECT on the same connection')
    return
  }
  if (client.timer) clearTimeout(client.timer)
  client.timer = undefined
  client.state = ConnState.Connecting
  client.version = (packet.protocolVersion ?? 4) as ProtocolVersion
  let pending: Promise<void> | undefined
  try {
    pending = connect(client, packet)
  } catch (error) {
    failed(client, error as Error)
    return
  }
  if (pending === undefined) return
  client.decoder.pause()
  client.stream.pause()
  pending.then(() => resumeInput(client), (error: Error) => failed(client, error))
}

function failed(client: ClientConnection, error: Error): void {
  refuse(client, ReasonCode.UnspecifiedError, `CONNECT failed: ${error.message}`)
}

/** After a CONNECT that waited: what the client sent behind it is read now. */
function resumeInput(client: ClientConnection): void {
  if (client.state !== ConnState.Connected) return // refused or closed: close() took care of the stream
  client.decoder.resume()
  if (client.state === ConnState.Connected) client.stream.resume()
}

/** What one CONNECT has established so far, from the first checks to the CONNACK. */
interface Connecting {
  packet: IConnectPacket
  info: ConnectInfo
  /** A client id the broker made up (MQTT 5: Assigned Client Identifier). */
  assigned: boolean
  keepalive: number
  /** MQTT 5 Server Keep Alive, when the broker changed the client's keepalive. */
  serverKeepAlive: number | undefined
  /** MQTT 5 enhanced authentication: the method, and the data of its last step. */
  method: string | undefined
  authData: Buffer | undefined
}

/** Refusals that are about who the client is, not how it speaks MQTT. */
const AUTH_CODES: ReadonlySet<number> = new Set([ReasonCode.BadUserNameOrPassword, ReasonCode.NotAuthorized, ReasonCode.BadAuthenticationMethod, ReasonCode.Banned])

function refuse(client: ClientConnection, reasonCode: number, reason: string): undefined {
  if (client.state >= ConnState.Closing) return
  if (client.version === 5) {
    client.sendNow(client.encodeWithReason({cmd: 'connack', sessionPresent: false, reasonCode, properties: {reasonString: reason.slice(0, 200)}}))
  } else {
    const returnCode = toV3ConnackCode(reasonCode)
    if (returnCode !== undefined) client.sendNow(encode({cmd: 'connack', sessionPresent: false, returnCode}, client.version))
  }
  const code = AUTH_CODES.has(reasonCode) ? ErrorCode.AUTH : ErrorCode.PROTOCOL
  client.ctx.emit('clientError', client, new ProtocolError(`CONNECT refused with ${describeReasonCode(reasonCode)}: ${reason}`, {reasonCode, code}))
  client.close(undefined, `CONNECT refused: ${reason}`)
  return undefined
}

/** The checks that need nothing but the packet, then authentication. A promise only when something must wait. */
function connect(client: ClientConnection, packet: IConnectPacket): Promise<void> | undefined {
  const ctx = client.ctx
  const v5 = client.version === 5
  const props = packet.properties
  if (v5 && props?.requestProblemInformation === false) client.requestProblemInformation = false
  if (v5 && props?.maximumPacketSize !== undefined) client.maxOutgoingPacketSize = props.maximumPacketSize
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

  // Bans and flapping (src/core/guard), before anything else is looked at: nothing of a banned client is kept.
  const refusal = ctx.guard.checkConnect(clientId, packet.username, client.remote)
  if (refusal !== undefined) {
    countRejected(client.stats, refusal.counter)
    return refuse(client, refusal.reasonCode, refusal.reason)
  }

  const limits = ctx.limits
  if (packet.will) {
    const will = packet.will
    const problem = topicNameProblem(will.topic) ?? topicLimitProblem(will.topic, limits.maxTopicLength, limits.maxTopicLevels)
    if (problem) return refuse(client, ReasonCode.TopicNameInvalid, `Will topic: ${problem}`)
    // MQTT-3.2.2-12/13: a Will above Maximum QoS, or retained where retain is not available.
    if ((will.qos ?? 0) > limits.maxQos) return refuse(client, ReasonCode.QoSNotSupported, `the Will has QoS ${will.qos}; this broker allows at most QoS ${limits.maxQos}`)
    if (will.retain && !limits.retainAvailable) return refuse(client, ReasonCode.RetainNotSupported, 'the Will is retained, but this broker does not support retained messages')
  }

  let keepalive = packet.keepalive ?? 0
  let serverKeepAlive: number | undefined
  if (limits.maxKeepalive > 0 && (keepalive === 0 || keepalive > limits.maxKeepalive)) {
    if (!v5) {
      // MQTT 3.1.1 cannot tell the client another keepalive, so it is refused (as Mosquitto does).
      return refuse(
        client,
        ReasonCode.ClientIdentifierNotValid,
        `keepalive ${keepalive} s is ${keepalive === 0 ? 'off' : 'too long'}: this broker needs 1 to ${limits.maxKeepalive} s`,
      )
    }
    keepalive = limits.maxKeepalive
    serverKeepAlive = keepalive
  }

  const transport = client.conn
  const info: ConnectInfo = {
    clientId,
    username: packet.username,
    password: packet.password,
    remote: client.remote,
    listenerId: transport.listenerId,
    scheme: transport.scheme,
    protocolVersion: client.version,
    peerCertificate: transport.peerCertificate?.(),
    request: transport.request,
  }
  // MQTT 5 enhanced authentication (handlers/auth.ts): an exchange of AUTH packets instead of the password check.
  const method = v5 ? props?.authenticationMethod : undefined
  const c: Connecting = {packet, info, assigned, keepalive, serverKeepAlive, method, authData: undefined}
  if (method !== undefined) {
    const exchange = ctx.auth.enhanced?.(method, info)
    if (exchange === undefined) {
      countAuthFailure(client.stats, ReasonCode.BadAuthenticationMethod)
      const hint = method.startsWith('SCRAM-') ? ': SCRAM-SHA-256 and SCRAM-SHA-512 need a password file (serve --password-file) with SCRAM entries (mqttws passwd --scram)' : ''
      return refuse(client, ReasonCode.BadAuthenticationMethod, `authentication method "${method}" is not supported${hint}`)
    }
    return runConnectExchange(client, exchange, props?.authenticationData).then((last) => {
      if (last === undefined) return // closed meanwhile
      c.authData = last.data
      return authenticated(client, c, last.result)
    })
  }
  const auth = ctx.auth.authenticate(info)
  return isPromise(auth) ? auth.then((result) => authenticated(client, c, result)) : authenticated(client, c, auth)
}

/** Authentication answered: the Will's permission next. */
function authenticated(client: ClientConnection, c: Connecting, auth: AuthResult): Promise<void> | undefined {
  // The upgrade request served this authentication only: an idle WebSocket connection does not keep its headers.
  client.conn.request = undefined
  if (client.state !== ConnState.Connecting) return // closed meanwhile
  if (!auth.ok) return refuse(client, auth.reasonCode, auth.reason)
  const principal = principalOf(c.info, auth)
  const will = c.packet.will
  // The Will is a PUBLISH the client makes in advance: it needs the same permission, checked now.
  const allowed = will === undefined || client.ctx.auth.canPublish(principal, will.topic, will.qos ?? 0, will.retain === true)
  return isPromise(allowed) ? allowed.then((ok) => authorized(client, c, principal, ok)) : authorized(client, c, principal, allowed)
}

/** Who the client is is settled: its session next. */
function authorized(client: ClientConnection, c: Connecting, principal: Principal, willAllowed: boolean): Promise<void> | undefined {
  if (client.state !== ConnState.Connecting) return
  const {packet} = c
  if (!willAllowed) {
    client.stats.deniedPublish++
    return refuse(client, ReasonCode.NotAuthorized, `the Will topic "${packet.will!.topic}" is not allowed for this client`)
  }
  const v5 = client.version === 5
  const props = packet.properties
  const limits = client.ctx.limits
  client.principal = principal
  client.clientId = c.info.clientId
  client.username = packet.username
  client.keepaliveMs = c.keepalive * 1000
  if (packet.will) {
    client.willDelay = v5 ? (packet.will.properties?.willDelayInterval ?? 0) : 0
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
  const requested = v5 ? (props?.sessionExpiryInterval ?? 0) : packet.clean ? 0 : NEVER_EXPIRES
  const expiry = Math.min(requested, limits.maxSessionExpiry)
  const receiveMaximum = v5 ? (props?.receiveMaximum ?? 65535) : 65535
  // The client accepts topic aliases from us: long topics then cross its connection once.
  const aliasMax = v5 ? Math.min(props?.topicAliasMaximum ?? 0, MAX_OUTBOUND_ALIASES) : 0
  if (aliasMax > 0) client.outAliases = new OutboundAliases(aliasMax, client.ctx.metrics)
  client.inflightMax = Math.min(receiveMaximum, limits.maxInflight)

  const present = client.ctx.sessions.attach(client, packet.clean !== false, expiry)
  if (isPromise(present)) return present.then((sessionPresent) => accept(client, c, sessionPresent, requested, expiry))
  accept(client, c, present, requested, expiry)
}

/** CONNACK: the client is connected. */
function accept(client: ClientConnection, c: Connecting, sessionPresent: boolean, requested: number, expiry: number): void {
  if (client.state !== ConnState.Connecting) return
  const ctx = client.ctx
  const limits = ctx.limits
  const props = c.packet.properties
  const {method, authData} = c
  const principal = client.principal!
  let connack = CONNACK_ACCEPTED[sessionPresent ? 1 : 0]
  if (client.version === 5) {
    const packet: IConnackPacket = {cmd: 'connack', sessionPresent, reasonCode: 0}
    packet.properties = {
      receiveMaximum: limits.receiveMaximum,
      maximumPacketSize: limits.maxPacketSize,
      retainAvailable: limits.retainAvailable,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
      topicAliasMaximum: limits.topicAliasMaximum,
    }
    // Absent means QoS 2 (MQTT 5 §3.2.2.3.4).
    if (limits.maxQos < 2) packet.properties.maximumQoS = limits.maxQos
    if (c.assigned) packet.properties.assignedClientIdentifier = client.clientId
    if (c.serverKeepAlive !== undefined) packet.properties.serverKeepAlive = c.serverKeepAlive
    // MQTT 5 §3.2.2.3.2: a session expiry other than the one asked for is announced.
    if (expiry !== requested) packet.properties.sessionExpiryInterval = expiry
    if (props?.requestResponseInformation === true) packet.properties.responseInformation = `${RESPONSE_PREFIX}${client.clientId}`
    if (method !== undefined) {
      packet.properties.authenticationMethod = method
      if (authData !== undefined) packet.properties.authenticationData = authData
      agreeMethod(client, method)
    }
    connack = encode(packet, 5)
  }
  client.state = ConnState.Connected
  client.rate = newClientRate(limits.messageRate, limits.byteRate)
  client.send(connack)
  client.lastSeen = Date.now()
  client.startKeepalive()
  if (principal.expiresAt !== undefined) client.expireCredentialsAt(principal.expiresAt)
  ctx.emit('client', client)
  ctx.delivery.resume(client)
}

type WillProps = NonNullable<NonNullable<IConnectPacket['will']>['properties']>

/** The Will's message properties become the PUBLISH properties (delay is the broker's business). */
function forwardableWillProperties(p: WillProps | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined
  const {willDelayInterval: _delay, ...rest} = p
  return Object.keys(rest).length > 0 ? rest : undefined
}
