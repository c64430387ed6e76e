/**
 * AUTH (MQTT 5 §3.15) and enhanced authentication (§4.12). A CONNECT that names an
 * Authentication Method the Auth offers (Auth.enhanced, e.g. SCRAM-SHA-256) starts an
 * exchange: AUTH 0x18 (Continue Authentication) goes back and forth until the exchange ends
 * with CONNACK (handlers/connect.ts). Meanwhile the client may send only AUTH (MQTT-3.1.2-30:
 * anything else closes it, as before CONNECT), and the whole exchange must end within the
 * connect timeout (limits.connectTimeoutMs) from CONNECT. After CONNACK, AUTH 0x19
 * (Re-authenticate) with the agreed method runs a new exchange for the same user; the client
 * keeps publishing meanwhile; success ends with AUTH 0x00, failure with DISCONNECT (§4.12.1).
 * Any other AUTH is a protocol error (MQTT-3.15.2-1: the method must be the agreed one).
 */
import type {EnhancedAuth, EnhancedStep} from '../auth.js'
import {encode} from '../../protocol/codec.js'
import type {IAuthPacket} from '../../protocol/codec.js'
import {ReasonCode, describeReasonCode} from '../../protocol/reason-codes.js'
import {ErrorCode, ProtocolError} from '../../errors.js'
import type {ClientConnection} from '../connection.js'
import {ConnState} from '../types.js'
import {countRejected} from '../../transport/listener-stats.js'

interface Exchange {
  readonly auth: EnhancedAuth
  /** Set while the broker waits for the client's next AUTH. */
  waiter: ((data: Buffer | undefined) => void) | undefined
  timer: NodeJS.Timeout | undefined
  /** A re-authentication (after CONNACK), not a CONNECT's exchange. */
  readonly reauth: boolean
}

/** The exchange under way on a connection; the agreed method of a connected client. */
const exchanges = new WeakMap<ClientConnection, Exchange>()
const agreed = new WeakMap<ClientConnection, string>()

function authPacket(client: ClientConnection, reasonCode: number, method: string, data: Buffer | undefined): Buffer {
  const properties: NonNullable<IAuthPacket['properties']> = {authenticationMethod: method}
  if (data !== undefined) properties.authenticationData = data
  return encode({cmd: 'auth', reasonCode, properties}, client.version)
}

function onExchangeTimeout(client: ClientConnection): void {
  const x = exchanges.get(client)
  if (x === undefined) return
  x.timer = undefined
  const ms = client.ctx.limits.connectTimeoutMs
  const reason = `the ${x.auth.method} authentication did not complete within ${ms} ms (limits.connectTimeoutMs)`
  client.ctx.emit('clientError', client, new ProtocolError(reason, {reasonCode: ReasonCode.NotAuthorized, code: ErrorCode.AUTH}))
  if (!x.reauth) countRejected(client.stats, 'handshake-timeout')
  if (x.reauth) client.close(ReasonCode.NotAuthorized, reason)
  else client.close(undefined, reason)
  const waiter = x.waiter
  x.waiter = undefined
  waiter?.(undefined)
}

/** The next AUTH's Authentication Data, or undefined when the connection closed or the deadline passed. */
function nextAuth(x: Exchange): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    x.waiter = resolve
  })
}

/**
 * Runs the exchange of a CONNECT (the decoder and stream are paused, as handleConnect left
 * them): resolves with its last step, or undefined when the connection closed meanwhile.
 */
export async function runConnectExchange(client: ClientConnection, auth: EnhancedAuth, data: Buffer | undefined): Promise<(EnhancedStep & {done: true}) | undefined> {
  const x: Exchange = {auth, waiter: undefined, timer: undefined, reauth: false}
  exchanges.set(client, x)
  x.timer = setTimeout(onExchangeTimeout, client.ctx.limits.connectTimeoutMs, client)
  try {
    let step = await auth.step(data)
    while (!step.done) {
      if (client.state !== ConnState.Connecting) return undefined
      const reply = nextAuth(x)
      client.sendNow(authPacket(client, ReasonCode.ContinueAuthentication, auth.method, step.data))
      // Read the client's AUTH; handleAuth pauses again while the exchange works on it.
      client.decoder.resume()
      if (client.state === ConnState.Connecting) client.stream.resume()
      const answer = await reply
      if (answer === undefined || client.state !== ConnState.Connecting) return undefined
      step = await auth.step(answer)
    }
    if (client.state !== ConnState.Connecting) return undefined
    return step
  } finally {
    if (x.timer !== undefined) clearTimeout(x.timer)
    exchanges.delete(client)
  }
}

/** After CONNACK: the method agreed, so that AUTH 0x19 may re-authenticate with it. */
export function agreeMethod(client: ClientConnection, method: string): void {
  agreed.set(client, method)
}

export function handleAuth(client: ClientConnection, packet: IAuthPacket): void {
  const method = packet.properties?.authenticationMethod
  const data = packet.properties?.authenticationData
  const x = exchanges.get(client)
  const rc = packet.reasonCode ?? 0
  if (x !== undefined && x.waiter !== undefined) {
    if (method !== x.auth.method || rc !== ReasonCode.ContinueAuthentication) {
      return violation(client, `AUTH with ${method === x.auth.method ? `reason code 0x${rc.toString(16)}` : `method "${method}"`} during the ${x.auth.method} exchange (expected Continue Authentication, 0x18)`)
    }
    const waiter = x.waiter
    x.waiter = undefined
    if (client.state === ConnState.Connecting) {
      client.decoder.pause()
      client.stream.pause()
    }
    waiter(data)
    return
  }
  if (client.state !== ConnState.Connected) return violation(client, 'AUTH before the broker asked for one')
  const known = agreed.get(client)
  if (known === undefined) {
    return violation(client, method === undefined ? 'AUTH received, but no authentication method was agreed at CONNECT' : `AUTH with method "${method}", but no authentication method was agreed at CONNECT`)
  }
  if (method !== known) return violation(client, `AUTH with method "${method}", but "${known}" was agreed at CONNECT (MQTT-3.15.2-1)`)
  if (x !== undefined) return violation(client, 'AUTH while a re-authentication is under way and no AUTH was asked for')
  if (rc !== ReasonCode.ReAuthenticate) return violation(client, `AUTH with reason code 0x${rc.toString(16)}: a client starts re-authentication with 0x19`)
  reauthenticate(client, known, data)
}

function violation(client: ClientConnection, reason: string): void {
  if (client.state === ConnState.Connected) client.protocolViolation(ReasonCode.ProtocolError, reason)
  else {
    client.ctx.emit('clientError', client, new ProtocolError(`${reason} (${describeReasonCode(ReasonCode.ProtocolError)})`, {reasonCode: ReasonCode.ProtocolError}))
    client.close(undefined, reason)
  }
}

/** Re-authentication (§4.12.1): the client goes on meanwhile; failure disconnects it. */
function reauthenticate(client: ClientConnection, method: string, data: Buffer | undefined): void {
  const principal = client.principal
  const info = {clientId: client.clientId, username: principal?.username, remote: client.remote, listenerId: client.conn.listenerId, scheme: client.conn.scheme, protocolVersion: client.version}
  const auth = client.ctx.auth.enhanced?.(method, info, principal)
  if (auth === undefined) return client.protocolViolation(ReasonCode.BadAuthenticationMethod, `re-authentication with "${method}" is no longer offered`)
  const x: Exchange = {auth, waiter: undefined, timer: undefined, reauth: true}
  exchanges.set(client, x)
  x.timer = setTimeout(onExchangeTimeout, client.ctx.limits.connectTimeoutMs, client)
  const run = async (): Promise<void> => {
    let step = await auth.step(data)
    while (!step.done) {
      if (client.state !== ConnState.Connected) return
      const reply = nextAuth(x)
      client.send(authPacket(client, ReasonCode.ContinueAuthentication, method, step.data))
      const answer = await reply
      if (answer === undefined || client.state !== ConnState.Connected) return
      step = await auth.step(answer)
    }
    if (client.state !== ConnState.Connected) return
    const r = step.result
    if (!r.ok) {
      client.ctx.emit('clientError', client, new ProtocolError(`re-authentication refused: ${r.reason}`, {reasonCode: r.reasonCode, code: ErrorCode.AUTH}))
      // DISCONNECT has no 0x86 (Bad User Name or Password): a failed re-authentication is 0x87 Not Authorized.
      client.close(r.reasonCode === ReasonCode.BadUserNameOrPassword ? ReasonCode.NotAuthorized : r.reasonCode, `re-authentication refused: ${r.reason}`)
      return
    }
    client.send(authPacket(client, ReasonCode.Success, method, step.data))
  }
  run()
    .catch((error: Error) => client.close(ReasonCode.UnspecifiedError, `re-authentication failed: ${error.message}`))
    .finally(() => {
      if (x.timer !== undefined) clearTimeout(x.timer)
      if (exchanges.get(client) === x) exchanges.delete(client)
    })
}
