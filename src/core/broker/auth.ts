/**
 * The authentication and authorization seam. `authenticate` decides at CONNECT and returns
 * who the client is (a Principal); the checks then ask what that principal may do.
 * Publishing is checked synchronously on every PUBLISH (and the Will, at CONNECT), against
 * what the principal holds, so it costs no promise; a subscription may be checked
 * asynchronously (e.g. by an HTTP authorizer). The default allows everything (a dev box).
 */
import type {IncomingHttpHeaders} from 'node:http'
import type {PeerCertificate} from 'node:tls'
import type {Scheme} from '../config.js'
import type {QoS} from '../protocol/codec.js'

export interface ConnectInfo {
  clientId: string
  username?: string
  password?: Buffer
  /** "127.0.0.1:50412" */
  remote: string
  listenerId?: string
  scheme: Scheme
  protocolVersion: number
  /** TLS listeners: the certificate the client presented, only when it verified against the listener's tls.clientCa. */
  peerCertificate?: PeerCertificate
  /** WebSocket listeners: the HTTP upgrade request (a browser's cookie or Authorization header). */
  request?: {url: string; headers: IncomingHttpHeaders}
}

/** Who a connected client is, as authentication decided. */
export interface Principal {
  readonly clientId: string
  readonly username: string | undefined
  /** Bypasses authorization. */
  readonly superuser: boolean
  /** What an authorizer needs: permissions or token claims granted at authentication. */
  readonly attributes: Readonly<Record<string, unknown>> | undefined
  /** When the credentials stop being valid (ms since the epoch, e.g. a token's exp): the broker disconnects the client then. */
  readonly expiresAt?: number
  /** The address the client connected from ("127.0.0.1:50412"), for rules and authorizers that look at it. */
  readonly remote?: string
}

/**
 * The read check of every delivery: whether a message on `topic` may still reach the
 * principal (rules reloaded, a token expired). Synchronous; an implementation remembers its
 * answers, so a delivery pays a lookup.
 */
export interface ReadGate {
  mayRead(principal: Principal, topic: string): boolean
}

export type AuthResult =
  | {ok: true; principal?: {username?: string; superuser?: boolean; attributes?: Record<string, unknown>; expiresAt?: number}}
  | {ok: false; reasonCode: number; reason: string}

/**
 * One step of MQTT 5 enhanced authentication (§4.12): either send the client AUTH 0x18
 * (Continue Authentication) with `data` and wait for its AUTH, or end with `result` (and
 * `data` for the CONNACK, or for AUTH 0x00 on re-authentication).
 */
export type EnhancedStep = {done: false; data: Buffer} | {done: true; result: AuthResult; data?: Buffer}

/** A stateful enhanced-authentication exchange (e.g. SCRAM), made for one CONNECT or one re-authentication. */
export interface EnhancedAuth {
  /** The Authentication Method, as the client named it. */
  readonly method: string
  /** The first call gets the CONNECT's (or the re-authenticating AUTH's) Authentication Data; each further call an AUTH's. */
  step(data: Buffer | undefined): Promise<EnhancedStep>
}

export interface Auth {
  /** A result, or a promise of one when an outside service (a file read, an HTTP call) must answer first. */
  authenticate(c: ConnectInfo): AuthResult | Promise<AuthResult>
  /**
   * Optional: an exchange for the Authentication Method a MQTT 5 CONNECT names, or undefined
   * when the method is not supported (CONNACK 0x8C). `reauth` is the principal of a connected
   * client that re-authenticates (AUTH 0x19): the exchange must authenticate the same user.
   */
  enhanced?(method: string, c: ConnectInfo, reauth?: Principal): EnhancedAuth | undefined
  /**
   * Optional: checks credentials a WebSocket upgrade request carries (a bearer token, a query
   * parameter) before the handshake completes. Undefined (no promise) when the request carries
   * none this Auth takes; otherwise a refusal answers the upgrade with HTTP 401 (403, 503).
   */
  checkUpgrade?(request: {url: string; headers: IncomingHttpHeaders}, listenerId: string): Promise<UpgradeVerdict> | undefined
  /**
   * Whether the principal may publish to `topic` (PUBLISH and the Will). A promise only when
   * an outside service must be asked (the connection's input waits meanwhile).
   */
  canPublish(principal: Principal, topic: string, qos: QoS, retain: boolean): boolean | Promise<boolean>
  /** The QoS granted for a subscription, or false when it is refused. */
  canSubscribe(principal: Principal, filter: string, qos: QoS): QoS | false | Promise<QoS | false>
  /**
   * Optional: whether the principal may publish to a reserved topic (one starting with "$",
   * protocol/topic.ts reservedTopicProblem), which the broker otherwise refuses to every
   * client but a superuser (unless limits.allowReservedTopics). canPublish is asked too.
   */
  canPublishReserved?(principal: Principal, topic: string, qos: QoS, retain: boolean): boolean
  /** Optional: the read check every delivery passes, once start() resolved; undefined: a granted subscription receives everything it matches. */
  readGate?(): ReadGate | undefined
  /** Optional: a client publishing where it may not is disconnected (MQTT 5: DISCONNECT 0x87), not only refused. */
  disconnectOnDeny?(): boolean
  /** Loads what authentication needs before the first client (Broker.start); throws when it cannot. */
  start?(): Promise<void>
  /** Re-reads credentials (SIGHUP, the admin API) without touching connected clients. */
  reload?(): Promise<unknown>
  /** What the admin API shows about authentication (never a secret). */
  describe?(): unknown
  /** Why a listener must not start with this Auth (e.g. anonymous access on a public address), or undefined. */
  listenerProblem?(listener: {id: string; host: string}): string | undefined
}

/** What checkUpgrade decided: go on with the handshake, or refuse it with an HTTP status. */
export type UpgradeVerdict =
  | {ok: true}
  | {ok: false; status: 401 | 403 | 503; reason: string; headers?: Record<string, string>}

/** The result that lets a client in as it connected: one frozen object, no allocation per CONNECT. */
export const AUTH_ALLOWED: AuthResult = Object.freeze({ok: true} as const)

export const allowAll: Auth = Object.freeze({
  authenticate: () => AUTH_ALLOWED,
  canPublish: () => true,
  canSubscribe: (_p: Principal, _f: string, qos: QoS) => qos,
})

/** The principal of a client that authenticated with `result` (clientId and username as it connected, unless the authenticator says otherwise). */
export function principalOf(info: ConnectInfo, result: AuthResult & {ok: true}): Principal {
  const p = result.principal
  const clientId = info.clientId
  const username = p?.username ?? info.username
  const superuser = p?.superuser === true
  const attributes = p?.attributes === undefined ? undefined : Object.freeze({...p.attributes})
  const remote = info.remote
  // Two literals rather than a spread: every connect makes one (the spread cost 2 µs of it).
  return Object.freeze(p?.expiresAt === undefined ? {clientId, username, superuser, attributes, remote} : {clientId, username, superuser, attributes, expiresAt: p.expiresAt, remote})
}
