/**
 * The NATS connections of a node: their options from the cluster settings, opening them, their
 * state changes logged, and what to do when a JetStream step of the start fails.
 */
import type {NatsConnection} from '@nats-io/transport-node'
import {ErrorCode, MqttwsError} from '../errors.js'
import type {Logger} from '../logger.js'
import type {ClusterConfig} from './config.js'
import type {NatsConnect} from './types.js'

/** Options both connections share: the servers, reconnecting forever every 0.5 s, credentials, TLS. */
export async function connectionOptions(c: ClusterConfig): Promise<Record<string, unknown>> {
  const base: Record<string, unknown> = {servers: [...c.servers], maxReconnectAttempts: -1, reconnectTimeWait: 500, pingInterval: 10_000}
  if (c.user !== undefined) base.user = c.user
  if (c.pass !== undefined) base.pass = c.pass
  if (c.token !== undefined) base.token = c.token
  if (c.credentials !== undefined) {
    const {credsAuthenticator} = await import('@nats-io/transport-node')
    base.authenticator = credsAuthenticator(new TextEncoder().encode(c.credentials))
  }
  if (c.tls !== undefined) base.tls = {...c.tls}
  return base
}

/** Logs a connection's disconnects, reconnections and server errors, and tells `onChange` whether it is up. */
export function watchStatus(nc: NatsConnection, which: string, log: Logger, onChange?: (up: boolean) => void): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        onChange?.(false)
        log.warn('cluster: NATS connection lost, reconnecting', {connection: which, server: s.server})
      } else if (s.type === 'reconnect') {
        onChange?.(true)
        log.info('cluster: NATS connection back', {connection: which, server: s.server})
      } else if (s.type === 'error') {
        log.error('cluster: NATS error', {connection: which, error: String((s as {error?: unknown}).error)})
      }
    }
  })().catch(() => {})
}

/**
 * Opens the node's two connections: the main one without echo (a node never gets its own
 * messages back), and the one of the queue groups with echo (the publishing node may be the
 * one a group picks). Unreachable servers: a CLUSTER error that says what to do.
 */
export async function openConnections(c: ClusterConfig, connect: NatsConnect, instance: string): Promise<{nc: NatsConnection; qc: NatsConnection}> {
  const base = await connectionOptions(c)
  let nc: NatsConnection | undefined
  try {
    nc = await connect({...base, name: `mqttws ${instance}`, noEcho: true})
    const qc = await connect({...base, name: `mqttws ${instance} shared`})
    return {nc, qc}
  } catch (error) {
    await nc?.close()
    throw new MqttwsError(ErrorCode.CLUSTER, `cannot reach the cluster's NATS servers at ${c.servers.join(', ')}: ${(error as Error).message}; start NATS with JetStream (nats-server -js) or check --cluster`, {cause: error})
  }
}

/** A JetStream step of the start; its failure (JetStream off, no permission, too few servers for the replicas) says what to do. */
export async function jetStreamStep<T>(c: ClusterConfig, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (error) {
    const hint = `is JetStream on (nats-server -js), and are there ${c.replicas} JetStream server(s) for cluster.replicas?`
    throw new MqttwsError(ErrorCode.CLUSTER, `the cluster's NATS servers (${c.servers.join(', ')}) could not set up ${what}: ${(error as Error).message}; ${hint}`, {cause: error})
  }
}
