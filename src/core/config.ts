/**
 * Broker configuration: types, defaults and the one validator every entry point
 * (CLI flags, config files, library callers) goes through. The core never reads
 * files or the environment: TLS material arrives here as PEM text.
 */
import {ConfigError} from './errors.js'
import {bool, checkKeys, intIn, isObj, oneOf, str} from './config-checks.js'
import type {Obj} from './config-checks.js'
import {LISTENER_DEFAULTS, adminOriginOf, defaultListeners, parseAdminUrl, resolveListener, resolveTls, resolveWs} from './listener-config.js'
import type {ListenerConfig, ListenerDefaults, ListenerInput, TlsMaterial, WsOptions} from './listener-config.js'
import {resolveAuthConfig} from './auth/config.js'
import type {AuthConfig, AuthConfigInput} from './auth/config.js'
import {resolveGuardConfig} from './guard/config.js'
import type {BanInput, GuardConfig, GuardConfigInput} from './guard/config.js'
import {resolveClusterConfig} from './cluster/config.js'
import type {ClusterConfig, ClusterConfigInput} from './cluster/config.js'
import {resolveAuthorizationConfig} from './authz/config.js'
import type {AuthorizationConfig, AuthorizationConfigInput} from './authz/config.js'

// Listeners live in listener-config.ts; their names stay importable from here.
export {DEFAULT_SUBPROTOCOLS, isTls, isWs, listenerUrl, parseAdminUrl, parseListenUrl, requireOrigins, resolveListenerInput} from './listener-config.js'
export type {ListenerConfig, ListenerDefaults, ListenerInput, ParsedListenUrl, Scheme, TlsMaterial, WsOptions} from './listener-config.js'

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

export interface AdminConfig {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** The bearer token; undefined: one is generated at start. */
  readonly token?: string
}

export const DEFAULTS = Object.freeze({
  host: LISTENER_DEFAULTS.host,
  ports: LISTENER_DEFAULTS.ports,
  ws: LISTENER_DEFAULTS.ws,
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
  admin: LISTENER_DEFAULTS.admin,
})

/** MQTT's own ceiling for a packet: 1 + 4 + 268,435,455 bytes. */
export const MQTT_MAX_PACKET_SIZE = 268_435_460

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

const LIMIT_KEYS = Object.keys(DEFAULTS.limits) as Array<keyof Limits>

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

