/**
 * Builds the broker configuration for `serve`: DEFAULTS < --config file < environment
 * (oclif's env on each flag) < flags, then resolveConfig() validates the whole.
 */
import {writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {BrokerConfig, BrokerConfigInput, Limits, WsOptions} from '../core/config.js'
import {resolveConfig} from '../core/config.js'
import type {LogLevelName} from '../core/logger.js'
import {generateDevCertificate} from '../core/tls/dev-cert.js'
import {loadConfigFile, readTlsFiles} from './config-file.js'

export interface ServeFlags {
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
  'max-packet-size'?: number
  'connect-timeout'?: number
  'max-inflight'?: number
  'max-queued'?: number
  'log-level'?: LogLevelName
}

export interface ServeSetup {
  config: BrokerConfig
  logLevel: LogLevelName
  /** Where the generated development certificate was written, when --dev-cert was used. */
  devCertFile?: string
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
  if (Object.keys(ws).length > 0) input.ws = ws

  const limits: Partial<Limits> = {...input.limits}
  if (flags['max-packet-size'] !== undefined) limits.maxPacketSize = flags['max-packet-size']
  if (flags['connect-timeout'] !== undefined) limits.connectTimeoutMs = Math.round(flags['connect-timeout'] * 1000)
  if (flags['max-inflight'] !== undefined) limits.maxInflight = flags['max-inflight']
  if (flags['max-queued'] !== undefined) limits.maxQueuedMessages = flags['max-queued']
  if (Object.keys(limits).length > 0) input.limits = limits

  let devCertFile: string | undefined
  if (flags['tls-cert'] || flags['tls-key']) {
    input.tls = await readTlsFiles({cert: flags['tls-cert'], key: flags['tls-key'], ca: flags['tls-ca']}, process.cwd(), '--tls-cert/--tls-key')
  } else if (flags['dev-cert'] ?? file.devCert) {
    const cert = await generateDevCertificate()
    devCertFile = join(tmpdir(), `mqttws-dev-cert-${process.pid}.pem`)
    await writeFile(devCertFile, cert.cert)
    input.tls = {cert: cert.cert, key: cert.key}
  }

  const logLevel = flags['log-level'] ?? file.logLevel ?? 'info'
  return {config: resolveConfig(input), logLevel, devCertFile}
}
