/**
 * The `cluster` section of the broker configuration: the NATS servers this node joins,
 * its name, the subject prefix the cluster shares, and the credentials and TLS material
 * of the NATS connection (as text: the core reads no files). Validated here;
 * resolveConfig (config.ts) calls resolveClusterConfig.
 */
import {ConfigError} from '../errors.js'
import {intIn} from '../settings.js'

export interface ClusterTls {
  /** PEM of the CA that signs the NATS servers' certificates. */
  readonly ca?: string
  /** PEM client certificate and key, when the NATS servers ask for one. */
  readonly cert?: string
  readonly key?: string
}

export interface ClusterConfig {
  /** NATS server URLs: nats://HOST:PORT or tls://HOST:PORT. */
  readonly servers: readonly string[]
  /** This node's name, unique in the cluster (default: host name and process id). */
  readonly name?: string
  /** The first token of every subject and the name of the JetStream assets: nodes with the same prefix form one cluster. */
  readonly prefix: string
  readonly user?: string
  readonly pass?: string
  readonly token?: string
  /** A NATS .creds file's text (JWT and NKEY seed). */
  readonly credentials?: string
  readonly tls?: ClusterTls
  /** Milliseconds between this node's heartbeats; a node missing three is shown as down. */
  readonly heartbeatMs: number
  /** Copies JetStream keeps of the cluster's streams (1, or up to the NATS cluster's size: 3 or 5). */
  readonly replicas: number
  /** How long a QoS 1/2 message's PUBACK waits for JetStream before it is refused (0x80). */
  readonly ackTimeoutMs: number
  /** Seconds the messages stream keeps QoS 1/2 messages. */
  readonly maxAgeSeconds: number
}

export interface ClusterConfigInput {
  servers: string | string[]
  name?: string
  prefix?: string
  user?: string
  pass?: string
  token?: string
  credentials?: string
  tls?: {ca?: string; cert?: string; key?: string}
  heartbeatMs?: number
  replicas?: number
  ackTimeoutMs?: number
  maxAgeSeconds?: number
}

export const CLUSTER_DEFAULTS = Object.freeze({prefix: 'mqttws', heartbeatMs: 2000, replicas: 1, ackTimeoutMs: 5000, maxAgeSeconds: 3600})

const KEYS = ['servers', 'name', 'prefix', 'user', 'pass', 'token', 'credentials', 'tls', 'heartbeatMs', 'replicas', 'ackTimeoutMs', 'maxAgeSeconds']

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function text(where: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`setting "cluster.${where}" is ${JSON.stringify(v)}: it must be a non-empty string`)
  return v
}

/** One NATS server URL, checked: nats:// or tls://, a host and a port. */
export function natsServer(where: string, url: string): string {
  let u: URL
  try {
    u = new URL(url.includes('://') ? url : `nats://${url}`)
  } catch {
    throw new ConfigError(`${where}: "${url}" is not a NATS server URL; use nats://HOST:PORT, e.g. nats://127.0.0.1:4222`)
  }
  if (u.protocol !== 'nats:' && u.protocol !== 'tls:') throw new ConfigError(`${where}: "${url}" is not a NATS server URL (scheme ${u.protocol}); use nats://HOST:PORT or tls://HOST:PORT`)
  if (u.hostname === '') throw new ConfigError(`${where}: "${url}" has no host; use nats://HOST:PORT`)
  if (u.pathname !== '' && u.pathname !== '/') throw new ConfigError(`${where}: "${url}" has a path; a NATS server URL is nats://HOST:PORT`)
  return `${u.protocol}//${u.username === '' ? '' : `${u.username}${u.password === '' ? '' : `:${u.password}`}@`}${u.host}`
}

export function resolveClusterConfig(input: unknown): ClusterConfig {
  if (typeof input === 'string' || Array.isArray(input)) input = {servers: input}
  if (!isObj(input)) throw new ConfigError('setting "cluster" must be an object with servers (NATS URLs, e.g. ["nats://127.0.0.1:4222"]) and optionally name, prefix, user, pass, token, credentials, tls, heartbeatMs')
  for (const key of Object.keys(input)) if (!KEYS.includes(key)) throw new ConfigError(`unknown setting "cluster.${key}": known settings here are ${KEYS.join(', ')}`)
  const list = typeof input.servers === 'string' ? input.servers.split(',').map((s) => s.trim()).filter((s) => s !== '') : input.servers
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string')) {
    throw new ConfigError(`setting "cluster.servers" is ${JSON.stringify(input.servers)}: give one or more NATS URLs, e.g. nats://127.0.0.1:4222 (serve --cluster nats://HOST:PORT[,…])`)
  }
  const servers = Object.freeze((list as string[]).map((s, i) => natsServer(`setting "cluster.servers[${i}]"`, s)))
  const out: {-readonly [K in keyof ClusterConfig]: ClusterConfig[K]} = {servers, prefix: CLUSTER_DEFAULTS.prefix, heartbeatMs: CLUSTER_DEFAULTS.heartbeatMs, replicas: CLUSTER_DEFAULTS.replicas, ackTimeoutMs: CLUSTER_DEFAULTS.ackTimeoutMs, maxAgeSeconds: CLUSTER_DEFAULTS.maxAgeSeconds}
  if (input.name !== undefined) {
    out.name = text('name', input.name)
    if (/[\s.*>]/.test(out.name) || out.name.length > 64) throw new ConfigError(`setting "cluster.name" is ${JSON.stringify(out.name)}: a node name has at most 64 characters and no spaces, ".", "*" or ">", e.g. node-a`)
  }
  if (input.prefix !== undefined) {
    out.prefix = text('prefix', input.prefix)
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(out.prefix)) throw new ConfigError(`setting "cluster.prefix" is ${JSON.stringify(out.prefix)}: use 1 to 32 letters, digits, "_" or "-", e.g. mqttws`)
  }
  for (const k of ['user', 'pass', 'token', 'credentials'] as const) if (input[k] !== undefined) out[k] = text(k, input[k])
  if (out.pass !== undefined && out.user === undefined) throw new ConfigError('setting "cluster.pass" needs "cluster.user"')
  if (out.credentials !== undefined && !out.credentials.includes('-----BEGIN NATS USER JWT-----')) {
    throw new ConfigError('setting "cluster.credentials" is not the text of a NATS .creds file (it has no "-----BEGIN NATS USER JWT-----" block)')
  }
  if (input.tls !== undefined) {
    const t = input.tls
    if (!isObj(t)) throw new ConfigError('setting "cluster.tls" must be an object with ca, cert and key (PEM text)')
    for (const key of Object.keys(t)) if (!['ca', 'cert', 'key'].includes(key)) throw new ConfigError(`unknown setting "cluster.tls.${key}": known settings here are ca, cert, key`)
    const tls: {ca?: string; cert?: string; key?: string} = {}
    for (const k of ['ca', 'cert', 'key'] as const) {
      if (t[k] === undefined) continue
      tls[k] = text(`tls.${k}`, t[k])
      if (!tls[k]!.includes('-----BEGIN')) throw new ConfigError(`setting "cluster.tls.${k}" is not PEM text`)
    }
    if ((tls.cert === undefined) !== (tls.key === undefined)) throw new ConfigError('settings "cluster.tls.cert" and "cluster.tls.key" go together')
    out.tls = Object.freeze(tls)
  }
  if (input.heartbeatMs !== undefined) out.heartbeatMs = intIn('cluster.heartbeatMs', input.heartbeatMs, 100, 60_000, 'use milliseconds from 100 to 60000, e.g. 2000')
  if (input.replicas !== undefined) out.replicas = intIn('cluster.replicas', input.replicas, 1, 5, 'JetStream keeps 1 to 5 copies; use 3 with a three-server NATS cluster')
  if (input.ackTimeoutMs !== undefined) out.ackTimeoutMs = intIn('cluster.ackTimeoutMs', input.ackTimeoutMs, 10, 120_000, 'use milliseconds from 10 to 120000, e.g. 5000')
  if (input.maxAgeSeconds !== undefined) out.maxAgeSeconds = intIn('cluster.maxAgeSeconds', input.maxAgeSeconds, 1, 31_536_000, 'use seconds from 1 to 31536000, e.g. 3600')
  return Object.freeze(out)
}
