/** The NATS connections of a node: their options from the cluster settings, and their state changes logged. */
import type {NatsConnection} from '@nats-io/transport-node'
import type {Logger} from '../logger.js'
import type {ClusterConfig} from './config.js'

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
