/**
 * Broker configuration: types, defaults and the one validator every entry point
 * (CLI flags, config files, library callers) goes through. The core never reads
 * files or the environment: TLS material arrives here as PEM text.
 */
import {ConfigError} from './errors.js'
import {resolveAuthConfig} from './auth/config.js'
import type {AuthConfig, AuthConfigInput} from './auth/config.js'
import {resolveGuardConfig} from './guard/config.js'
import type {BanInput, GuardConfig, GuardConfigInput} from './guard/config.js'
import {resolveClusterConfig} from './cluster/config.js'
import type {ClusterConfig, ClusterConfigInput} from './cluster/config.js'
import {resolveAuthorizationConfig} from './authz/config.js'
import type {AuthorizationConfig, AuthorizationConfigInput} from './authz/config.js'

export type Scheme = 'mqtt' | 'mqtts' | 'ws' | 'wss'

export interface TlsMaterial {
  cert: string
  key: string
  ca?: string
  /** PEM of the CA(s) that sign client certificates: the listener asks clients for one (mTLS). */
  clientCa?: string
  /** With clientCa: 'request' (default; a certificate that does not verify is ignored) or 'require' (no verified certificate, no handshake). */
  clientCert?: 'request' | 'require'
}

export interface WsOptions {
  /** The only HTTP path that upgrades to MQTT; other paths get 404. */
  path: string
  /** Sec-WebSocket-Protocol values we accept; the first offered one that is listed is echoed. */
  subprotocols: readonly string[]
  /** Accept clients that offer no subprotocol at all (some embedded and mini-program clients). */
  allowNoSubprotocol: boolean
  /** Put all packets pending in one event-loop turn into a single frame (EMQX's mqtt_piggyback=single). */
  piggyback: boolean
  /** Accept permessage-deflate (RFC 7692) when a client offers it (EMQX's compress); off by default. */
  deflate: boolean
  /** When set, a handshake whose Origin header is not in this list gets 403 (no Origin header: allowed). */
  origins?: readonly string[]
  /**
   * Clients of this listener authenticate from the upgrade request (a cookie, an Authorization
   * header or a query token), which a browser sends for any site: without `origins`, the
   * allowed origin is then the admin API's own (see requireOrigins). Off by default.
   */
  authFromUpgrade?: boolean
}

export interface ListenerConfig {
  /** Stable name, e.g. "ws:8083"; unique within a broker. */
  id: string
  scheme: Scheme
  host: string
  /** 0 picks a free port. */
  port: number
  /** Only for ws/wss. */
  ws?: WsOptions
  /** Only for mqtts/wss. */
  tls?: TlsMaterial
}

/** What happens when a session's queue is full: drop the oldest queued message (EMQX) or the new one (Mosquitto). */
export type QueueOverflow = 'drop-oldest' | 'drop-newest'
export const QUEUE_OVERFLOW: readonly QueueOverflow[] = Object.freeze(['drop-oldest', 'drop-newest'])

/** How a shared subscription group picks the member that gets a message. */
export type SharedStrategy = 'round-robin' | 'random' | 'sticky'
export const SHARED_STRATEGIES: readonly SharedStrategy[] = Object.freeze(['round-robin', 'random', 'sticky'])

/**
 * Every limit the broker enforces. docs/broker.md describes each with its default; a
 * value of 0 means "no limit" only where the comment says so.
 */
export interface Limits {
  /** Largest MQTT packet accepted (and the WebSocket maximum payload), in bytes; advertised to MQTT 5 clients. */
  maxPacketSize: number
  /** A socket that has not sent CONNECT by then is closed. */
  connectTimeoutMs: number
  /** Outgoing QoS 1/2 messages awaiting acknowledgement per client (MQTT 5 clients may ask for fewer). */
  maxInflight: number
  /** Messages queued per session (offline, or inflight window full); `queueOverflow` says which one goes past it. */
  maxQueuedMessages: number
  /** Bytes (topic + payload) queued per session; the same overflow policy applies. */
  maxQueuedBytes: number
  /** Which message is dropped when a session queue is full. Drops are counted. */
  queueOverflow: QueueOverflow
  /** Receive Maximum the broker advertises to MQTT 5 clients: unreleased QoS 2 PUBLISH beyond it → DISCONNECT 0x93. */
  receiveMaximum: number
  /** Topic aliases an MQTT 5 client may set (Topic Alias Maximum in CONNACK); 0 allows none. */
  topicAliasMaximum: number
  /** Longest topic name or filter, in UTF-8 bytes. */
  maxTopicLength: number
  /** Most levels ("/"-separated parts) in a topic name or filter. */
  maxTopicLevels: number
  /** Open connections per listener; past it new sockets are closed at once. 0: no limit. */
  maxConnections: number
  /** Longest keepalive a client may ask for, in seconds (MQTT 5: Server Keep Alive; 3.1.1: refused). 0: no limit. */
  maxKeepalive: number
  /** Longest session expiry interval, in seconds; 3.1.1 persistent sessions get this too. 4294967295: never expire. */
  maxSessionExpiry: number
  /** Bytes waiting in one connection's output before it counts as a slow consumer: QoS 0 is dropped, QoS 1/2 queued. */
  maxOutputBytes: number
  /** A slow consumer whose output has not drained after this long is disconnected. 0: never. */
  drainTimeoutMs: number
  /** Highest QoS the broker accepts and grants (Maximum QoS in CONNACK). */
  maxQos: 0 | 1 | 2
  /** Whether retained messages are supported (Retain Available in CONNACK). */
  retainAvailable: boolean
  /** Topics with a retained message; a retained PUBLISH to a new topic past it is delivered but not retained (counted). 0: no limit. */
  maxRetainedMessages: number
  /** Largest payload kept as a retained message, in bytes; a larger one is delivered but not retained (counted). 0: no limit. */
  maxRetainedPayload: number
  /** Largest CONNECT accepted, in bytes (at most maxPacketSize applies), checked from its fixed header. */
  maxConnectSize: number
  /** Sockets from one remote address that have not completed CONNECT yet, per listener; past it new ones are closed. 0: no limit. */
  maxPendingPerAddress: number
  /** Let clients publish (and set Wills) to topics starting with "$" ($SYS, $CONTROL, ...); by default only an authorizer can grant that. */
  allowReservedTopics: boolean
  /** New connections per second per listener; past it new sockets are closed at once (counted). 0: no limit. */
  connectionRate: number
  /** PUBLISH packets per second per client: QoS 0 past it dropped, QoS 1/2 refused (MQTT 5: 0x97), reading paused. 0: no limit. */
  messageRate: number
  /** PUBLISH payload bytes per second per client, answered as messageRate. 0: no limit. */
  byteRate: number
}

/** SQLite's synchronous mode: 'normal' survives a crash of the process, 'full' also a power loss. */
export type PersistenceSync = 'normal' | 'full'
export const PERSISTENCE_SYNC: readonly PersistenceSync[] = Object.freeze(['normal', 'full'])

/** Durable sessions and retained messages (serve --data-dir). */
export interface PersistenceConfig {
  /** The data directory (it holds mqttws.db). */
  readonly dir: string
  readonly synchronous: PersistenceSync
}

export interface BrokerConfig {
  readonly listeners: readonly ListenerConfig[]
  readonly limits: Readonly<Limits>
  /** How shared subscription groups ($share/GROUP/FILTER) pick a member. */
  readonly sharedStrategy: SharedStrategy
  /** What listeners added at runtime (Broker.createListener) default to: host, WebSocket options, TLS material. */
  readonly listenerDefaults?: ListenerDefaults
  /** The HTTP admin API (src/core/admin): where it listens and its token; false turns it off; undefined: the defaults. */
  readonly admin?: AdminConfig | false
  /** Where sessions and retained messages are stored; undefined: in memory only. */
  readonly persistence?: PersistenceConfig
  /** Seconds between $SYS/… updates; 0 turns them off; undefined: 10 (the Broker's DEFAULT_SYS_INTERVAL). */
  readonly sysInterval?: number
  /** Authentication (src/core/auth/config.ts); undefined: no authenticator, loopback listeners only. */
  readonly auth?: AuthConfig
  /** Bans, flapping detection, trusted proxies, the TLS floor (src/core/guard/config.ts); undefined: the defaults. */
  readonly guard?: GuardConfig
  /** Several nodes, one namespace, through NATS (src/core/cluster/config.ts); undefined: this node alone. */
  readonly cluster?: ClusterConfig
  /** Authorization (src/core/authz/config.ts); undefined or not enabled: every request is allowed. */
  readonly authorization?: AuthorizationConfig
}

export interface ListenerDefaults {
  readonly host: string
  readonly ws: WsOptions
  readonly tls?: TlsMaterial
  /** The admin API's origin (http://HOST:PORT), the default allowed origin of a listener with ws.authFromUpgrade. */
  readonly adminOrigin?: string
}

export interface AdminConfig {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** The bearer token; undefined: one is generated at start. */
  readonly token?: string
}

export const DEFAULT_SUBPROTOCOLS = Object.freeze(['mqtt', 'mqttv3.1', 'mqtt-v3', 'mqtt-v3.1.1', 'mqtt-v5'])

export const DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  ports: Object.freeze({mqtt: 1883, ws: 8083, mqtts: 8883, wss: 8084}),
  ws: Object.freeze<WsOptions>({
    path: '/mqtt',
    subprotocols: DEFAULT_SUBPROTOCOLS,
    allowNoSubprotocol: false,
    piggyback: false,
    deflate: false,
  }),
  limits: Object.freeze<Limits>({
    // 2 MiB: a 1 MiB payload gets through with any topic and properties (as it does with Mosquitto).
    maxPacketSize: 2 * 1024 * 1024,
    connectTimeoutMs: 10_000,
    maxInflight: 100,
    maxQueuedMessages: 1000,
    maxQueuedBytes: 16 * 1024 * 1024,
    queueOverflow: 'drop-oldest',
    receiveMaximum: 100,
    topicAliasMaximum: 10,
    maxTopicLength: 65535,
    maxTopicLevels: 128,
    maxConnections: 0,
    maxKeepalive: 0,
    maxSessionExpiry: 0xffffffff,
    maxOutputBytes: 1024 * 1024,
    drainTimeoutMs: 30_000,
    maxQos: 2,
    retainAvailable: true,
    maxRetainedMessages: 0,
    maxRetainedPayload: 0,
    maxConnectSize: 64 * 1024,
    maxPendingPerAddress: 256,
    allowReservedTopics: false,
    connectionRate: 0,
    messageRate: 0,
    byteRate: 0,
  }),
  sharedStrategy: 'round-robin' as SharedStrategy,
  admin: Object.freeze({host: '127.0.0.1', port: 18083}),
})

/** MQTT's own ceiling for a packet: 1 + 4 + 268,435,455 bytes. */
export const MQTT_MAX_PACKET_SIZE = 268_435_460

const SCHEME_ALIASES: Record<string, Scheme> = {
  mqtt: 'mqtt',
  tcp: 'mqtt',
  mqtts: 'mqtts',
  tls: 'mqtts',
  ssl: 'mqtts',
  ws: 'ws',
  wss: 'wss',
}

export interface ParsedListenUrl {
  scheme: Scheme
  host: string
  port: number
  path?: string
}

/** Parses `mqtt://HOST:PORT`, `mqtts://…`, `ws://HOST:PORT/PATH`, `wss://…/PATH` (tcp:// and tls:// are aliases). */
export function parseListenUrl(text: string, defaults: {host?: string; path?: string} = {}): ParsedListenUrl {
  const m = /^([a-z]+):\/\/(.*)$/i.exec(text.trim())
  if (!m) throw new ConfigError(`listener "${text}" is not a URL: write it as mqtt://127.0.0.1:1883 or ws://127.0.0.1:8083/mqtt`)
  const scheme = SCHEME_ALIASES[m[1].toLowerCase()]
  if (!scheme) {
    throw new ConfigError(`listener "${text}" has an unknown scheme "${m[1]}:": use mqtt, mqtts, ws or wss`)
  }
  // URL drops a port equal to http's default 80, so read the authority ourselves. Check the
  // range before URL does: it rejects a port over 65535 as merely "invalid".
  const portText = /^(?:\[[^\]]*\]|[^/:]*)(?::(\d*))?/.exec(m[2])?.[1]
  const port = portText === undefined || portText === '' ? DEFAULTS.ports[scheme] : Number(portText)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`listener "${text}" has port ${portText}: a port is 0 to 65535 (0 picks a free one)`)
  }
  // URL refuses an empty host ("mqtt://:1883"), which means the default host here.
  const emptyHost = /^(?:[:/]|$)/.test(m[2])
  let url: URL
  try {
    url = new URL(`http://${emptyHost ? 'host.invalid' : ''}${m[2]}`)
  } catch {
    throw new ConfigError(`listener "${text}" is not a valid URL: write it as ${scheme}://HOST:PORT${isWs(scheme) ? '/PATH' : ''}`)
  }
  if (url.username || url.password) throw new ConfigError(`listener "${text}" must not contain credentials`)
  if (url.search || url.hash) throw new ConfigError(`listener "${text}" must not contain a query or fragment`)
  const host = emptyHost ? (defaults.host ?? DEFAULTS.host) : url.hostname.replace(/^\[(.*)\]$/, '$1')
  const rawPath = url.pathname
  if (!isWs(scheme)) {
    if (rawPath !== '/' && rawPath !== '') {
      throw new ConfigError(`listener "${text}" has a path, but ${scheme}:// listeners have none: paths are for ws:// and wss://`)
    }
    return {scheme, host, port}
  }
  const path = rawPath === '/' && !/^[^/]*\/$/.test(m[2]) ? (defaults.path ?? DEFAULTS.ws.path) : rawPath
  return {scheme, host, port, path}
}

export function isWs(scheme: Scheme): boolean {
  return scheme === 'ws' || scheme === 'wss'
}

export function isTls(scheme: Scheme): boolean {
  return scheme === 'mqtts' || scheme === 'wss'
}

/** The URL a client uses to reach a listener (IPv6 hosts in brackets). */
export function listenerUrl(l: {scheme: Scheme; host: string; port: number; ws?: {path: string}}): string {
  const host = l.host.includes(':') ? `[${l.host}]` : l.host
  return `${l.scheme}://${host}:${l.port}${l.ws ? l.ws.path : ''}`
}

// ---- validation ---------------------------------------------------------------------------

/** What callers may pass: everything optional, listeners as URLs or objects. */
export interface BrokerConfigInput {
  host?: string
  listeners?: Array<string | ListenerInput>
  ws?: Partial<WsOptions>
  tls?: TlsMaterial
  limits?: Partial<Limits>
  sharedStrategy?: SharedStrategy
  /** The admin API: its URL (http://HOST:PORT) and token, or false to turn it off. */
  admin?: false | {url?: string; token?: string}
  /** Durable sessions and retained messages in DIR (absent: in memory). */
  persistence?: {dir: string; synchronous?: PersistenceSync}
  /** Seconds between $SYS/… updates (0: off). */
  sysInterval?: number
  /** Authenticators in order, and whether clients without credentials may connect. */
  auth?: AuthConfigInput
  /** Banned client ids, user names and addresses (src/core/guard/config.ts). */
  bans?: BanInput[]
  /** Flapping detection, trusted proxies, PROXY protocol, the TLS floor (src/core/guard/config.ts). */
  guard?: GuardConfigInput
  /** NATS servers (and credentials) this node joins a cluster through. */
  cluster?: ClusterConfigInput | string | string[]
  authorization?: AuthorizationConfigInput
}

export interface ListenerInput {
  url: string
  id?: string
  ws?: Partial<WsOptions>
  tls?: TlsMaterial
}

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkKeys(where: string, value: Obj, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      const at = where ? `${where}.${key}` : key
      throw new ConfigError(`unknown setting "${at}": known settings here are ${allowed.join(', ')}`)
    }
  }
}

function intIn(where: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`setting "${where}" is ${JSON.stringify(v)}: it must be a whole number from ${min} to ${max}`)
  }
  return v
}

function bool(where: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(`setting "${where}" is ${JSON.stringify(v)}: it must be true or false`)
  return v
}

function str(where: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`setting "${where}" is ${JSON.stringify(v)}: it must be a non-empty string`)
  return v
}

const WS_KEYS = ['path', 'subprotocols', 'allowNoSubprotocol', 'piggyback', 'deflate', 'origins', 'authFromUpgrade'] as const
const LIMIT_KEYS = Object.keys(DEFAULTS.limits) as Array<keyof Limits>

function resolveWs(where: string, base: WsOptions, input: unknown): WsOptions {
  if (input === undefined) return base
  if (!isObj(input)) throw new ConfigError(`setting "${where}" must be an object with ${WS_KEYS.join(', ')}`)
  checkKeys(where, input, WS_KEYS)
  const out: WsOptions = {...base}
  if (input.path !== undefined) {
    const p = str(`${where}.path`, input.path)
    if (!p.startsWith('/')) throw new ConfigError(`setting "${where}.path" is "${p}": a WebSocket path starts with /, e.g. /mqtt`)
    out.path = p
  }
  if (input.subprotocols !== undefined) {
    const list = input.subprotocols
    if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s))) {
      throw new ConfigError(`setting "${where}.subprotocols" is ${JSON.stringify(list)}: it must be a non-empty list of tokens such as ["mqtt", "mqttv3.1"]`)
    }
    out.subprotocols = Object.freeze([...list] as string[])
  }
  if (input.allowNoSubprotocol !== undefined) out.allowNoSubprotocol = bool(`${where}.allowNoSubprotocol`, input.allowNoSubprotocol)
  if (input.piggyback !== undefined) out.piggyback = bool(`${where}.piggyback`, input.piggyback)
  if (input.deflate !== undefined) out.deflate = bool(`${where}.deflate`, input.deflate)
  if (input.origins !== undefined) {
    const list = input.origins
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s !== '')) {
      throw new ConfigError(`setting "${where}.origins" is ${JSON.stringify(list)}: it must be a list of origins such as ["http://localhost:3000"]`)
    }
    out.origins = Object.freeze([...list] as string[])
  }
  if (input.authFromUpgrade !== undefined) out.authFromUpgrade = bool(`${where}.authFromUpgrade`, input.authFromUpgrade)
  return Object.freeze(out)
}

function resolveTls(where: string, input: unknown): TlsMaterial | undefined {
  if (input === undefined) return undefined
  if (!isObj(input)) throw new ConfigError(`setting "${where}" must be an object with cert, key and optionally ca (PEM text)`)
  checkKeys(where, input, ['cert', 'key', 'ca', 'clientCa', 'clientCert'])
  const cert = str(`${where}.cert`, input.cert)
  const key = str(`${where}.key`, input.key)
  if (!cert.includes('-----BEGIN')) throw new ConfigError(`setting "${where}.cert" is not a PEM certificate`)
  if (!key.includes('-----BEGIN')) throw new ConfigError(`setting "${where}.key" is not a PEM private key`)
  const ca = input.ca === undefined ? undefined : str(`${where}.ca`, input.ca)
  const out: TlsMaterial = ca === undefined ? {cert, key} : {cert, key, ca}
  if (input.clientCert !== undefined && input.clientCa === undefined) {
    throw new ConfigError(`setting "${where}.clientCert" needs "${where}.clientCa": the CA that signs the client certificates`)
  }
  if (input.clientCa !== undefined) {
    out.clientCa = str(`${where}.clientCa`, input.clientCa)
    if (!out.clientCa.includes('-----BEGIN')) throw new ConfigError(`setting "${where}.clientCa" is not a PEM certificate`)
    out.clientCert = input.clientCert === undefined ? 'request' : oneOf(`${where}.clientCert`, input.clientCert, ['request', 'require'] as const)
  }
  return Object.freeze(out)
}

/**
 * Validates a configuration and returns it frozen. Without listeners it yields the
 * defaults: MQTT on 1883 and WebSocket on 8083/mqtt, plus 8883 and 8084 when TLS is given.
 * Throws ConfigError naming the bad key and value.
 */
export function resolveConfig(input: BrokerConfigInput = {}): BrokerConfig {
  if (!isObj(input)) throw new ConfigError('the configuration must be an object')
  checkKeys('', input, ['host', 'listeners', 'ws', 'tls', 'limits', 'sharedStrategy', 'admin', 'persistence', 'sysInterval', 'auth', 'authorization', 'bans', 'guard', 'cluster'])
  const host = input.host === undefined ? DEFAULTS.host : str('host', input.host)
  const ws = resolveWs('ws', DEFAULTS.ws, input.ws)
  const tls = resolveTls('tls', input.tls)

  const limitsIn = input.limits ?? {}
  if (!isObj(limitsIn)) throw new ConfigError(`setting "limits" must be an object with ${LIMIT_KEYS.join(', ')}`)
  checkKeys('limits', limitsIn, LIMIT_KEYS)
  const limits = resolveLimits(limitsIn)
  const sharedStrategy = input.sharedStrategy === undefined ? DEFAULTS.sharedStrategy : oneOf('sharedStrategy', input.sharedStrategy, SHARED_STRATEGIES)

  const listenersIn: unknown = input.listeners ?? defaultListeners(host, ws.path, tls !== undefined)
  if (!Array.isArray(listenersIn) || listenersIn.length === 0) {
    throw new ConfigError('setting "listeners" must be a non-empty list, e.g. ["mqtt://127.0.0.1:1883", "ws://127.0.0.1:8083/mqtt"]')
  }
  const admin = input.admin === undefined ? undefined : resolveAdmin(input.admin)
  const adminOrigin = adminOriginOf(admin)
  const ids = new Set<string>()
  const bound = new Map<string, string>()
  // Automatic ids give way to explicit ones, also to those of later listeners.
  const explicitIds = new Set(listenersIn.map((input: unknown) => (isObj(input) ? input.id : undefined)))
  const listeners = listenersIn.map((input, i) => {
    const l = resolveListener(`listeners[${i}]`, input, {host, ws, tls, adminOrigin})
    const explicitId = isObj(input) && input.id !== undefined
    if (explicitId) {
      if (ids.has(l.id)) throw new ConfigError(`two listeners share the id "${l.id}": give one of them another id`)
      ids.add(l.id)
      return l
    }
    // Several listeners on port 0 of the same scheme: number them.
    let id = l.id
    for (let n = 2; ids.has(id) || explicitIds.has(id); n++) id = `${l.id}-${n}`
    ids.add(id)
    return id === l.id ? l : Object.freeze({...l, id})
  })
  for (const l of listeners) {
    const addr = `${l.host}:${l.port}`
    if (l.port !== 0 && bound.has(addr)) {
      throw new ConfigError(`listeners ${bound.get(addr)} and ${l.id} both bind ${addr}: give each its own port`)
    }
    bound.set(addr, l.id)
  }
  const persistence = input.persistence === undefined ? undefined : resolvePersistence(input.persistence)
  const sysInterval = input.sysInterval
  if (sysInterval !== undefined && (typeof sysInterval !== 'number' || !Number.isFinite(sysInterval) || sysInterval < 0 || sysInterval > 86_400)) {
    throw new ConfigError(`setting "sysInterval" is ${JSON.stringify(sysInterval)}: use seconds from 0 (off) to 86400, e.g. 10`)
  }
  const listenerDefaults: ListenerDefaults = Object.freeze({host, ws, ...(tls ? {tls} : {}), ...(adminOrigin === undefined ? {} : {adminOrigin})})
  const auth = input.auth === undefined ? undefined : resolveAuthConfig(input.auth)
  const guard = input.bans === undefined && input.guard === undefined ? undefined : resolveGuardConfig(input.bans, input.guard)
  const cluster = input.cluster === undefined ? undefined : resolveClusterConfig(input.cluster)
  const authorization = resolveAuthorizationConfig(input.authorization, (auth?.authenticators.length ?? 0) > 0)
  return Object.freeze({
    listeners: Object.freeze(listeners),
    limits: Object.freeze(limits),
    sharedStrategy,
    listenerDefaults,
    ...(admin === undefined ? {} : {admin}),
    ...(persistence === undefined ? {} : {persistence}),
    ...(sysInterval === undefined ? {} : {sysInterval}),
    ...(auth === undefined ? {} : {auth}),
    ...(guard === undefined ? {} : {guard}),
    ...(cluster === undefined ? {} : {cluster}),
    ...(authorization.enabled ? {authorization} : {}),
  })
}

function resolvePersistence(input: unknown): PersistenceConfig {
  if (!isObj(input)) throw new ConfigError('setting "persistence" must be an object with dir (a directory) and optionally synchronous (normal or full)')
  checkKeys('persistence', input, ['dir', 'synchronous'])
  const dir = str('persistence.dir', input.dir)
  const synchronous = input.synchronous === undefined ? 'normal' : oneOf('persistence.synchronous', input.synchronous, PERSISTENCE_SYNC)
  return Object.freeze({dir, synchronous})
}

function resolveAdmin(input: unknown): AdminConfig | false {
  if (input === false) return false
  if (!isObj(input)) throw new ConfigError('setting "admin" must be false or an object with url (http://HOST:PORT) and token')
  checkKeys('admin', input, ['url', 'token'])
  const {host, port} = input.url === undefined ? DEFAULTS.admin : parseAdminUrl(str('admin.url', input.url))
  if (input.token === undefined) return Object.freeze({host, port})
  const token = str('admin.token', input.token)
  if (token.length < 8) throw new ConfigError('setting "admin.token" is too short: use at least 8 characters (or leave it out and one is generated)')
  return Object.freeze({host, port, token})
}

/** Parses the admin API address, http://HOST:PORT (port 0 picks a free one). */
export function parseAdminUrl(text: string): {host: string; port: number} {
  let url: URL
  try {
    url = new URL(text.includes('://') ? text : `http://${text}`)
  } catch {
    throw new ConfigError(`admin address "${text}" is not a URL: write it as http://127.0.0.1:18083`)
  }
  if (url.protocol !== 'http:') throw new ConfigError(`admin address "${text}" must use http:// (the admin API has no TLS; keep it on loopback)`)
  const portText = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^/:]*)(?::(\d*))?/i.exec(text.includes('://') ? text : `http://${text}`)?.[1]
  const port = portText === undefined || portText === '' ? DEFAULTS.admin.port : Number(portText)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`admin address "${text}" has port ${portText}: a port is 0 to 65535`)
  return {host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port}
}

/**
 * Validates one listener added at runtime against the broker's defaults (host, WebSocket
 * options, TLS) and the listeners it already has (`taken`: their ids and bound addresses).
 */
export function resolveListenerInput(
  input: string | ListenerInput,
  defaults: ListenerDefaults,
  taken: {ids: ReadonlySet<string>; addresses: ReadonlyMap<string, string>},
): ListenerConfig {
  const l = resolveListener('listener', input, {host: defaults.host, ws: defaults.ws, tls: defaults.tls, adminOrigin: defaults.adminOrigin})
  const explicitId = typeof input === 'object' && input !== null && input.id !== undefined
  let id = l.id
  if (taken.ids.has(id)) {
    if (explicitId) throw new ConfigError(`a listener with id "${id}" exists already: give this one another id, or remove that one first`)
    for (let n = 2; taken.ids.has(id); n++) id = `${l.id}-${n}`
  }
  const addr = `${l.host}:${l.port}`
  const other = taken.addresses.get(addr)
  if (l.port !== 0 && other !== undefined) throw new ConfigError(`listener ${other} already binds ${addr}: give this one another port`)
  return id === l.id ? l : Object.freeze({...l, id})
}

const NEVER = 0xffffffff

function resolveLimits(input: Obj): Limits {
  const l: Limits = {...DEFAULTS.limits}
  const int = (key: keyof Limits, min: number, max: number): void => {
    if (input[key] !== undefined) (l as unknown as Record<string, number>)[key] = intIn(`limits.${key}`, input[key], min, max)
  }
  int('maxPacketSize', 16, MQTT_MAX_PACKET_SIZE)
  int('connectTimeoutMs', 1, 3_600_000)
  int('maxInflight', 1, 65535)
  int('maxQueuedMessages', 0, 10_000_000)
  int('maxQueuedBytes', 0, Number.MAX_SAFE_INTEGER)
  int('receiveMaximum', 1, 65535)
  int('topicAliasMaximum', 0, 65535)
  int('maxTopicLength', 1, 65535)
  int('maxTopicLevels', 1, 65535)
  int('maxConnections', 0, 10_000_000)
  int('maxKeepalive', 0, 65535)
  int('maxSessionExpiry', 0, NEVER)
  int('maxOutputBytes', 1024, Number.MAX_SAFE_INTEGER)
  int('drainTimeoutMs', 0, 3_600_000)
  int('maxQos', 0, 2)
  int('maxRetainedMessages', 0, Number.MAX_SAFE_INTEGER)
  int('maxRetainedPayload', 0, MQTT_MAX_PACKET_SIZE)
  int('maxConnectSize', 16, MQTT_MAX_PACKET_SIZE)
  int('maxPendingPerAddress', 0, 10_000_000)
  int('connectionRate', 0, 10_000_000)
  int('messageRate', 0, 10_000_000)
  int('byteRate', 0, 1_000_000_000_000)
  if (input.queueOverflow !== undefined) l.queueOverflow = oneOf('limits.queueOverflow', input.queueOverflow, QUEUE_OVERFLOW)
  if (input.retainAvailable !== undefined) l.retainAvailable = bool('limits.retainAvailable', input.retainAvailable)
  if (input.allowReservedTopics !== undefined) l.allowReservedTopics = bool('limits.allowReservedTopics', input.allowReservedTopics)
  return l
}

function oneOf<T extends string>(where: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(`setting "${where}" is ${JSON.stringify(v)}: use one of ${allowed.join(', ')}`)
  }
  return v as T
}

function defaultListeners(host: string, path: string, withTls: boolean): string[] {
  const h = bracket(host)
  const list = [`mqtt://${h}:${DEFAULTS.ports.mqtt}`, `ws://${h}:${DEFAULTS.ports.ws}${path}`]
  if (withTls) list.push(`mqtts://${h}:${DEFAULTS.ports.mqtts}`, `wss://${h}:${DEFAULTS.ports.wss}${path}`)
  return list
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

function resolveListener(where: string, input: unknown, base: {host: string; ws: WsOptions; tls?: TlsMaterial; adminOrigin?: string}): ListenerConfig {
  const obj: Obj = typeof input === 'string' ? {url: input} : isObj(input) ? input : {}
  if (typeof input !== 'string' && !isObj(input)) throw new ConfigError(`setting "${where}" must be a URL string or an object with url`)
  checkKeys(where, obj, ['url', 'id', 'ws', 'tls'])
  const url = str(`${where}.url`, obj.url)
  let parsed: ParsedListenUrl
  try {
    parsed = parseListenUrl(url, {host: base.host, path: base.ws.path})
  } catch (error) {
    throw new ConfigError(`setting "${where}": ${(error as Error).message}`)
  }
  const {scheme, host, port} = parsed
  const tls = resolveTls(`${where}.tls`, obj.tls) ?? base.tls
  if (isTls(scheme) && !tls) {
    throw new ConfigError(
      `listener ${url} needs a certificate and key: pass --tls-cert and --tls-key, or --dev-cert for a self-signed development certificate`,
    )
  }
  const id = obj.id === undefined ? `${scheme}:${port}` : str(`${where}.id`, obj.id)
  const listener: ListenerConfig = {id, scheme, host, port}
  if (isWs(scheme)) {
    const wsOpts = resolveWs(`${where}.ws`, base.ws, obj.ws)
    listener.ws = Object.freeze({...wsOpts, path: obj.ws && isObj(obj.ws) && obj.ws.path ? wsOpts.path : (parsed.path ?? wsOpts.path)})
  } else if (obj.ws !== undefined) {
    throw new ConfigError(`setting "${where}.ws" applies only to ws:// and wss:// listeners`)
  }
  if (isTls(scheme)) listener.tls = tls
  return requireOrigins(Object.freeze(listener), base.adminOrigin)
}

/** The admin API's origin, http://HOST:PORT; undefined when it is off or on a port picked at start. */
function adminOriginOf(admin: AdminConfig | false | undefined): string | undefined {
  if (admin === false) return undefined
  const {host, port} = admin ?? DEFAULTS.admin
  return port === 0 ? undefined : `http://${bracket(host)}:${port}`
}

/**
 * Cross-site WebSocket hijacking (reliability.md row 58): a browser sends a site's cookies and
 * credentials with an upgrade request that any other site's page starts. So a WebSocket
 * listener that authenticates from the upgrade request (ws.authFromUpgrade) must have an
 * allowed-origin list: without ws.origins it gets the admin API's origin (same-origin as the
 * admin dashboard), and without an admin API at a known address it is a configuration error.
 */
export function requireOrigins(listener: ListenerConfig, adminOrigin: string | undefined): ListenerConfig {
  const ws = listener.ws
  if (ws === undefined || ws.authFromUpgrade !== true || ws.origins !== undefined) return listener
  if (adminOrigin === undefined) {
    throw new ConfigError(
      `listener ${listener.id} authenticates from the WebSocket upgrade request, so it needs the origins allowed to connect: set ws.origins (serve --ws-origins https://app.example.com); there is no default while the admin API is off or on a port picked at start`,
    )
  }
  return Object.freeze({...listener, ws: Object.freeze({...ws, origins: Object.freeze([adminOrigin])})})
}
