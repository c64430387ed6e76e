/**
 * Builds the broker configuration for `serve`: DEFAULTS < --config file < environment
 * (oclif's env on each flag) < flags, then resolveConfig() validates the whole.
 */
import {chmod, mkdir, readFile, unlink, writeFile} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import {Flags} from '@oclif/core'
import type {BrokerConfig, BrokerConfigInput, Limits, PersistenceSync, QueueOverflow, SharedStrategy, WsOptions} from '../core/config.js'
import {DEFAULTS, PERSISTENCE_SYNC, QUEUE_OVERFLOW, SHARED_STRATEGIES, resolveConfig} from '../core/config.js'
import type {LogLevelName} from '../core/logger.js'
import {loadConfigFile, readTlsFiles} from './config-file.js'
import {loadDevCertificate} from './dev-cert-file.js'
import type {Broker} from '../core/broker/broker.js'
import {generateToken, startAdmin} from '../core/admin/server.js'
import type {AdminServer} from '../core/admin/server.js'
import {ConfigError, ErrorCode} from '../core/errors.js'
import type {MqttwsError} from '../core/errors.js'
import type {Logger} from '../core/logger.js'
import {defaultTokenFile} from './admin-client.js'
import {loadDashboard} from './dashboard-assets.js'
import {applyAuthFlags, applyClientCaFlags} from './auth-options.js'
import type {AuthFlags} from './auth-options.js'
import {applyClusterFlags} from './cluster-options.js'
import type {ClusterFlags} from './cluster-options.js'
import {applyAuthzFlags} from './authz-options.js'
import type {AuthzFlags} from './authz-options.js'
import {applyGuardFlags} from './guard-options.js'
import type {GuardFlags} from './guard-options.js'

export interface ServeFlags extends AdminFlags, AuthFlags, AuthzFlags, GuardFlags, ClusterFlags {
  config?: string
  listen?: string[]
  host?: string
  'tls-cert'?: string
  'tls-key'?: string
  'tls-ca'?: string
  'dev-cert'?: boolean
  'ws-path'?: string
  'ws-subprotocols'?: string
  'ws-allow-no-subprotocol'?: boolean
  'ws-piggyback'?: boolean
  'ws-deflate'?: boolean
  'ws-origins'?: string
  'max-packet-size'?: number
  'connect-timeout'?: number
  'max-inflight'?: number
  'max-queued'?: number
  'max-queued-bytes'?: number
  'queue-overflow'?: string
  'receive-maximum'?: number
  'topic-alias-maximum'?: number
  'max-topic-length'?: number
  'max-topic-levels'?: number
  'max-connections'?: number
  'max-keepalive'?: number
  'max-session-expiry'?: number
  'max-output-bytes'?: number
  'drain-timeout'?: number
  'max-qos'?: number
  'retain-available'?: boolean
  'shared-strategy'?: string
  'max-retained'?: number
  'max-retained-payload'?: number
  'max-connect-size'?: number
  'max-pending-per-address'?: number
  'allow-reserved-topics'?: boolean
  'connection-rate'?: number
  'message-rate'?: number
  'byte-rate'?: number
  'data-dir'?: string
  'data-sync'?: string
  'log-level'?: LogLevelName
}

const D = DEFAULTS.limits
const LIMITS = 'LIMITS'

/** The `serve` flags for limits and MQTT features; docs/broker.md describes each. */
export const serveLimitFlags = {
  'max-packet-size': Flags.integer({summary: `Largest MQTT packet accepted, in bytes; also the WebSocket maximum payload (default ${D.maxPacketSize}).`, helpGroup: LIMITS, min: 16}),
  'connect-timeout': Flags.integer({summary: `Seconds a new connection has to send CONNECT (default ${D.connectTimeoutMs / 1000}).`, helpGroup: LIMITS, min: 1}),
  'max-inflight': Flags.integer({summary: `Unacknowledged QoS 1/2 messages per client (default ${D.maxInflight}).`, helpGroup: LIMITS, min: 1, max: 65535}),
  'max-queued': Flags.integer({summary: `Messages queued per session (offline or congested); see --queue-overflow (default ${D.maxQueuedMessages}).`, helpGroup: LIMITS, min: 0}),
  'max-queued-bytes': Flags.integer({summary: `Bytes (topic + payload) queued per session (default ${D.maxQueuedBytes}).`, helpGroup: LIMITS, min: 0}),
  'queue-overflow': Flags.option({options: QUEUE_OVERFLOW, summary: `Which message a full session queue drops; drops are counted (default ${D.queueOverflow}).`, helpGroup: LIMITS})(),
  'receive-maximum': Flags.integer({summary: `Unreleased QoS 2 messages an MQTT 5 client may send at once; more → DISCONNECT 0x93 (default ${D.receiveMaximum}).`, helpGroup: LIMITS, min: 1, max: 65535}),
  'topic-alias-maximum': Flags.integer({summary: `Topic aliases an MQTT 5 client may set; 0 allows none (default ${D.topicAliasMaximum}).`, helpGroup: LIMITS, min: 0, max: 65535}),
  'max-topic-length': Flags.integer({summary: `Longest topic name or filter, in bytes (default ${D.maxTopicLength}).`, helpGroup: LIMITS, min: 1, max: 65535}),
  'max-topic-levels': Flags.integer({summary: `Most "/"-separated levels in a topic name or filter (default ${D.maxTopicLevels}).`, helpGroup: LIMITS, min: 1, max: 65535}),
  'max-connections': Flags.integer({summary: 'Open connections per listener; new sockets past it are closed at once (default 0: no limit).', helpGroup: LIMITS, min: 0}),
  'max-keepalive': Flags.integer({summary: 'Longest keepalive in seconds: MQTT 5 clients are told (Server Keep Alive), 3.1.1 clients asking more are refused (default 0: no limit).', helpGroup: LIMITS, min: 0, max: 65535}),
  'max-session-expiry': Flags.integer({summary: `Longest session expiry in seconds; also for 3.1.1 persistent sessions (default ${D.maxSessionExpiry}: never).`, helpGroup: LIMITS, min: 0, max: 0xffffffff}),
  'max-output-bytes': Flags.integer({summary: `Bytes waiting to be sent to one client before it is a slow consumer: QoS 0 dropped, QoS 1/2 queued (default ${D.maxOutputBytes}).`, helpGroup: LIMITS, min: 1024}),
  'drain-timeout': Flags.integer({summary: `Seconds a slow consumer has to drain its output before it is disconnected; 0: never (default ${D.drainTimeoutMs / 1000}).`, helpGroup: LIMITS, min: 0}),
  'max-qos': Flags.integer({summary: `Highest QoS accepted and granted (default ${D.maxQos}).`, helpGroup: LIMITS, min: 0, max: 2}),
  'retain-available': Flags.boolean({summary: 'Support retained messages; --no-retain-available refuses them (0x9A).', helpGroup: LIMITS, allowNo: true}),
  'shared-strategy': Flags.option({options: SHARED_STRATEGIES, summary: `How a $share group picks the member for a message (default ${DEFAULTS.sharedStrategy}).`, helpGroup: LIMITS})(),
  'max-retained': Flags.integer({summary: 'Topics with a retained message; past it a retained PUBLISH to a new topic is delivered, not kept (default 0: no limit).', helpGroup: LIMITS, min: 0}),
  'max-retained-payload': Flags.integer({summary: 'Largest payload kept as a retained message, in bytes (default 0: no limit).', helpGroup: LIMITS, min: 0}),
  'max-connect-size': Flags.integer({summary: `Largest CONNECT accepted, in bytes, checked from its header; MQTT 5 clients over it get CONNACK 0x95 (default ${D.maxConnectSize}).`, helpGroup: LIMITS, min: 16}),
  'max-pending-per-address': Flags.integer({summary: `Sockets from one address that have not completed CONNECT, per listener; more are closed at once (default ${D.maxPendingPerAddress}; 0: no limit).`, helpGroup: LIMITS, min: 0}),
  'connection-rate': Flags.integer({summary: 'New connections per second per listener; more are closed at once (default 0: no limit).', helpGroup: LIMITS, min: 0}),
  'message-rate': Flags.integer({summary: 'PUBLISH per second per client: QoS 0 over it dropped, QoS 1/2 refused (MQTT 5: 0x97), reading paused (default 0: no limit).', helpGroup: LIMITS, min: 0}),
  'byte-rate': Flags.integer({summary: 'PUBLISH payload bytes per second per client, answered as --message-rate (default 0: no limit).', helpGroup: LIMITS, min: 0}),
  'allow-reserved-topics': Flags.boolean({summary: 'Let clients publish and set Wills to $-topics ($SYS/..., $CONTROL/...); by default refused (0x87) unless an authorizer grants it.', helpGroup: LIMITS, allowNo: true}),
}

const STORAGE = 'STORAGE'

/** `serve` flags for durable sessions and retained messages. */
export const serveStorageFlags = {
  'data-dir': Flags.string({
    summary: 'Keep sessions, offline queues and retained messages in DIR/mqttws.db (SQLite), across restarts and kill -9. Default: in memory.',
    helpGroup: STORAGE,
    env: 'MQTTWS_DATA_DIR',
  }),
  'data-sync': Flags.option({
    options: PERSISTENCE_SYNC,
    summary: 'normal: what was acknowledged survives a crash of the broker; full: also a power loss (slower). Default normal.',
    helpGroup: STORAGE,
  })(),
}

export interface ServeSetup {
  config: BrokerConfig
  logLevel: LogLevelName
  /** Where the generated development certificate was written, when --dev-cert was used. */
  devCertFile?: string
}

function seconds(s: number | undefined): number | undefined {
  return s === undefined ? undefined : Math.round(s * 1000)
}

export async function buildServeConfig(flags: ServeFlags): Promise<ServeSetup> {
  const file = flags.config ? await loadConfigFile(flags.config) : {broker: {} as BrokerConfigInput}
  const input: BrokerConfigInput = {...file.broker}

  if (flags.host !== undefined) input.host = flags.host
  if (flags.listen && flags.listen.length > 0) input.listeners = flags.listen

  const ws: Partial<WsOptions> = {...input.ws}
  if (flags['ws-path'] !== undefined) ws.path = flags['ws-path']
  if (flags['ws-subprotocols'] !== undefined) ws.subprotocols = flags['ws-subprotocols'].split(',').map((s) => s.trim()).filter(Boolean)
  if (flags['ws-allow-no-subprotocol'] !== undefined) ws.allowNoSubprotocol = flags['ws-allow-no-subprotocol']
  if (flags['ws-piggyback'] !== undefined) ws.piggyback = flags['ws-piggyback']
  if (flags['ws-deflate'] !== undefined) ws.deflate = flags['ws-deflate']
  if (flags['ws-origins'] !== undefined) ws.origins = flags['ws-origins'].split(',').map((s) => s.trim()).filter(Boolean)
  if (Object.keys(ws).length > 0) input.ws = ws

  const limits: Partial<Limits> = {...input.limits}
  const set = <K extends keyof Limits>(key: K, value: Limits[K] | undefined): void => {
    if (value !== undefined) limits[key] = value
  }
  set('maxPacketSize', flags['max-packet-size'])
  set('connectTimeoutMs', seconds(flags['connect-timeout']))
  set('maxInflight', flags['max-inflight'])
  set('maxQueuedMessages', flags['max-queued'])
  set('maxQueuedBytes', flags['max-queued-bytes'])
  set('queueOverflow', flags['queue-overflow'] as QueueOverflow | undefined)
  set('receiveMaximum', flags['receive-maximum'])
  set('topicAliasMaximum', flags['topic-alias-maximum'])
  set('maxTopicLength', flags['max-topic-length'])
  set('maxTopicLevels', flags['max-topic-levels'])
  set('maxConnections', flags['max-connections'])
  set('maxKeepalive', flags['max-keepalive'])
  set('maxSessionExpiry', flags['max-session-expiry'])
  set('maxOutputBytes', flags['max-output-bytes'])
  set('drainTimeoutMs', seconds(flags['drain-timeout']))
  set('maxQos', flags['max-qos'] as Limits['maxQos'] | undefined)
  set('retainAvailable', flags['retain-available'])
  set('maxRetainedMessages', flags['max-retained'])
  set('maxRetainedPayload', flags['max-retained-payload'])
  set('maxConnectSize', flags['max-connect-size'])
  set('maxPendingPerAddress', flags['max-pending-per-address'])
  set('allowReservedTopics', flags['allow-reserved-topics'])
  set('connectionRate', flags['connection-rate'])
  set('messageRate', flags['message-rate'])
  set('byteRate', flags['byte-rate'])
  if (Object.keys(limits).length > 0) input.limits = limits
  if (flags['data-dir'] !== undefined) input.persistence = {...input.persistence, dir: resolve(flags['data-dir'])}
  if (flags['data-sync'] !== undefined) {
    if (input.persistence === undefined) throw new ConfigError('--data-sync needs a data directory: add --data-dir DIR (or persistence.dir in the config file)')
    input.persistence = {...input.persistence, synchronous: flags['data-sync'] as PersistenceSync}
  }
  applyAdminFlags(input, flags)
  if (flags['sys-interval'] !== undefined) input.sysInterval = flags['sys-interval']
  await applyAuthFlags(input, flags)
  await applyClusterFlags(input, flags)
  applyAuthzFlags(input, flags)
  applyGuardFlags(input, flags)
  if (flags['shared-strategy'] !== undefined) input.sharedStrategy = flags['shared-strategy'] as SharedStrategy

  let devCertFile: string | undefined
  if (flags['tls-cert'] || flags['tls-key']) {
    input.tls = await readTlsFiles({cert: flags['tls-cert'], key: flags['tls-key'], ca: flags['tls-ca']}, process.cwd(), '--tls-cert/--tls-key')
  } else if (flags['dev-cert'] ?? file.devCert) {
    const dev = await loadDevCertificate()
    devCertFile = dev.file
    input.tls = {cert: dev.cert, key: dev.key}
  }

  await applyClientCaFlags(input, flags)

  const logLevel = flags['log-level'] ?? file.logLevel ?? 'info'
  return {config: resolveConfig(input), logLevel, devCertFile}
}

// ---- the admin API ----

/** `serve` flags for the admin API. */
export const serveAdminFlags = {
  admin: Flags.string({summary: `Admin API address, http://HOST:PORT (default http://${DEFAULTS.admin.host}:${DEFAULTS.admin.port}); "off" disables it.`, helpGroup: 'ADMIN', env: 'MQTTWS_ADMIN'}),
  'admin-token': Flags.string({summary: 'Bearer token of the admin API (default: generated at start, written to the token file).', helpGroup: 'ADMIN', env: 'MQTTWS_ADMIN_TOKEN'}),
  'admin-token-file': Flags.string({summary: 'Where to write the token (default $XDG_RUNTIME_DIR/mqttws/admin-PORT.token or ~/.mqttws/admin-PORT.token).', helpGroup: 'ADMIN', env: 'MQTTWS_ADMIN_TOKEN_FILE'}),
  'metrics-token': Flags.string({summary: 'A second token that may read GET /metrics (Prometheus) on the admin address, for a scraper.', helpGroup: 'ADMIN', env: 'MQTTWS_METRICS_TOKEN', exclusive: ['metrics-no-auth']}),
  'metrics-no-auth': Flags.boolean({summary: 'Let anyone who reaches the admin address read GET /metrics (the API still needs the token).', helpGroup: 'ADMIN'}),
  'sys-interval': Flags.integer({summary: 'Seconds between $SYS/broker/… updates (Mosquitto names); 0 turns them off (default 10).', helpGroup: 'ADMIN', min: 0, max: 86_400}),
}

export interface AdminFlags {
  admin?: string
  'admin-token'?: string
  'admin-token-file'?: string
  'metrics-token'?: string
  'metrics-no-auth'?: boolean
  'sys-interval'?: number
}

const OFF = new Set(['off', 'false', 'no', 'none', '0'])

/** Applies --admin/--admin-token on top of the file's `admin` setting. */
export function applyAdminFlags(input: BrokerConfigInput, flags: AdminFlags): void {
  if (flags.admin !== undefined && OFF.has(flags.admin.toLowerCase())) {
    input.admin = false
    return
  }
  if (flags.admin === undefined && flags['admin-token'] === undefined) return
  const base = input.admin === false || input.admin === undefined ? {} : input.admin
  input.admin = {...base, ...(flags.admin === undefined ? {} : {url: flags.admin}), ...(flags['admin-token'] === undefined ? {} : {token: flags['admin-token']})}
}

export interface RunningAdmin {
  server: AdminServer
  token: string
  tokenFile: string
  /** The dashboard's URL, when its files are built. */
  dashboard?: string
}

/**
 * Starts the admin API as configured, writes the token to a file only the user can read,
 * and returns it; undefined when it is off. When the default address is taken (another
 * serve), it warns through `warn` and carries on; an address that was asked for must work.
 */
export async function startServeAdmin(broker: Broker, setup: ServeSetup, flags: AdminFlags, logger: Logger, warn: (msg: string) => void): Promise<RunningAdmin | undefined> {
  const cfg = setup.config.admin
  if (cfg === false) return undefined
  const explicit = cfg !== undefined
  const {host, port} = cfg ?? DEFAULTS.admin
  const token = cfg?.token ?? generateToken()
  let server: AdminServer
  const dashboard = await loadDashboard()
  try {
    const metrics = {token: flags['metrics-token'], public: flags['metrics-no-auth'] === true}
    server = await startAdmin(broker, {host, port, token, logger, metrics, dashboard})
  } catch (error) {
    if (explicit || (error as MqttwsError).code !== ErrorCode.LISTEN_ADDR_IN_USE) throw error
    warn(`admin API not started: ${(error as Error).message} (pass --admin http://127.0.0.1:PORT, or --admin off)`)
    return undefined
  }
  const tokenFile = flags['admin-token-file'] ?? defaultTokenFile(server.port)
  await mkdir(dirname(tokenFile), {recursive: true, mode: 0o700})
  await writeFile(tokenFile, `${token}\n`, {mode: 0o600})
  await chmod(tokenFile, 0o600)
  return {server, token, tokenFile, ...(dashboard === undefined ? {} : {dashboard: `${server.url}/`})}
}

/** Stops the admin API and removes its token file (if it still holds our token). */
export async function stopServeAdmin(admin: RunningAdmin | undefined): Promise<void> {
  if (!admin) return
  await admin.server.close()
  try {
    if ((await readFile(admin.tokenFile, 'utf8')).trim() === admin.token) await unlink(admin.tokenFile)
  } catch {
    // already gone
  }
}
