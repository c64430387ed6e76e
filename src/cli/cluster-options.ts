/**
 * `serve --cluster`: the flags, the files they name (a NATS .creds file, TLS material),
 * and the cluster Bus, imported only when a cluster is configured (no NATS code is loaded
 * by a single node).
 */
import {readFile} from 'node:fs/promises'
import {resolve} from 'node:path'
import {Flags} from '@oclif/core'
import type {Bus} from '../core/broker/bus.js'
import type {ClusterConfig, ClusterConfigInput} from '../core/cluster/config.js'
import type {BrokerConfigInput} from '../core/config.js'
import {ConfigError} from '../core/errors.js'
import type {Logger} from '../core/logger.js'

export const serveClusterFlags = {
  cluster: Flags.string({summary: 'Join a cluster through NATS with JetStream: nats://HOST:PORT[,…]. Every node names the same NATS servers.', helpGroup: 'CLUSTER', env: 'MQTTWS_CLUSTER'}),
  'cluster-name': Flags.string({summary: "This node's name in the cluster (default: host name and process id).", helpGroup: 'CLUSTER', env: 'MQTTWS_CLUSTER_NAME'}),
  'cluster-creds': Flags.string({summary: 'NATS .creds file (JWT and NKEY seed) for the NATS connection.', helpGroup: 'CLUSTER'}),
  'cluster-ca': Flags.string({summary: 'PEM CA of the NATS servers (tls://).', helpGroup: 'CLUSTER'}),
  'cluster-cert': Flags.string({summary: 'PEM client certificate for the NATS servers.', helpGroup: 'CLUSTER', dependsOn: ['cluster-key']}),
  'cluster-key': Flags.string({summary: 'PEM private key of --cluster-cert.', helpGroup: 'CLUSTER', dependsOn: ['cluster-cert']}),
}

export interface ClusterFlags {
  cluster?: string
  'cluster-name'?: string
  'cluster-creds'?: string
  'cluster-ca'?: string
  'cluster-cert'?: string
  'cluster-key'?: string
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(resolve(file), 'utf8')
  } catch (error) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(error as Error).message}`)
  }
}

/** A config file's cluster.credentials and cluster.tls.* are file paths unless they hold the text itself. */
async function fileOrText(value: unknown, marker: string, what: string): Promise<unknown> {
  return typeof value === 'string' && value !== '' && !value.includes(marker) ? readText(value, what) : value
}

export async function applyClusterFlags(input: BrokerConfigInput, flags: ClusterFlags): Promise<void> {
  const fromFile = input.cluster
  const named = flags['cluster-name'] ?? flags['cluster-creds'] ?? flags['cluster-ca'] ?? flags['cluster-cert']
  if (flags.cluster === undefined && fromFile === undefined) {
    if (named !== undefined) throw new ConfigError('the --cluster-* flags need --cluster nats://HOST:PORT (or cluster.servers in the config file)')
    return
  }
  const c: Record<string, unknown> = typeof fromFile === 'string' || Array.isArray(fromFile) ? {servers: fromFile} : {...(fromFile as ClusterConfigInput | undefined)}
  c.credentials = await fileOrText(c.credentials, '-----BEGIN', 'setting "cluster.credentials"')
  if (typeof c.tls === 'object' && c.tls !== null) {
    const t = {...(c.tls as Record<string, unknown>)}
    for (const k of ['ca', 'cert', 'key']) t[k] = await fileOrText(t[k], '-----BEGIN', `setting "cluster.tls.${k}"`)
    c.tls = t
  }
  if (c.credentials === undefined) delete c.credentials
  if (flags.cluster !== undefined) c.servers = flags.cluster
  if (flags['cluster-name'] !== undefined) c.name = flags['cluster-name']
  if (flags['cluster-creds'] !== undefined) c.credentials = await readText(flags['cluster-creds'], '--cluster-creds')
  const tls: Record<string, unknown> = {...(c.tls as Record<string, unknown> | undefined)}
  if (flags['cluster-ca'] !== undefined) tls.ca = await readText(flags['cluster-ca'], '--cluster-ca')
  if (flags['cluster-cert'] !== undefined) tls.cert = await readText(flags['cluster-cert'], '--cluster-cert')
  if (flags['cluster-key'] !== undefined) tls.key = await readText(flags['cluster-key'], '--cluster-key')
  if (Object.keys(tls).length > 0) c.tls = tls
  input.cluster = c as unknown as ClusterConfigInput
}

/** The cluster Bus (NATS), loaded on demand; undefined without a cluster. */
export async function createServeBus(cluster: ClusterConfig | undefined, logger: Logger): Promise<(Bus & {name: string; instance: string}) | undefined> {
  if (cluster === undefined) return undefined
  const {createClusterBus} = await import('../core/cluster/index.js')
  return createClusterBus(cluster, logger)
}
