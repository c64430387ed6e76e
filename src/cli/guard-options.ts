/**
 * `serve` flags for the abuse protection (src/core/guard): trusted proxies, flapping
 * detection, the TLS floor. They go on top of the config file's `guard` and `bans`;
 * resolveConfig validates the whole. The rates (--connection-rate, --message-rate,
 * --byte-rate) are limits, with the other limit flags (serve-options.ts).
 */
import {Flags} from '@oclif/core'
import type {BrokerConfigInput} from '../core/config.js'
import type {GuardConfigInput} from '../core/guard/config.js'

const GUARD = 'ABUSE PROTECTION'

export const serveGuardFlags = {
  'trusted-proxy': Flags.string({
    multiple: true,
    summary: 'Address or network (CIDR) of a proxy whose X-Forwarded-For/X-Real-IP (WebSocket) or PROXY protocol header (TCP, TLS) is believed (repeatable).',
    helpGroup: GUARD,
  }),
  'proxy-protocol': Flags.option({options: ['auto', 'require'] as const, summary: 'auto (default): a trusted proxy may send a PROXY v1/v2 header; require: it must.', helpGroup: GUARD})(),
  flapping: Flags.boolean({
    summary: 'Ban a client id that connects more than 15 times a minute for 5 minutes (EMQX defaults; guard.flapping). Default: on when authentication is configured.',
    helpGroup: GUARD,
    allowNo: true,
  }),
  'tls-min-version': Flags.option({options: ['TLSv1.2', 'TLSv1.3'] as const, summary: 'Lowest TLS version of mqtts:// and wss:// listeners (default TLSv1.2; older ones are never offered).', helpGroup: 'TLS'})(),
}

export interface GuardFlags {
  'trusted-proxy'?: string[]
  'proxy-protocol'?: string
  flapping?: boolean
  'tls-min-version'?: string
}

/** Applies the flags on top of the file's settings (mutates `input`). */
export function applyGuardFlags(input: BrokerConfigInput, flags: GuardFlags): void {
  const guard: GuardConfigInput = {...input.guard}
  let changed = false
  if (flags['trusted-proxy'] !== undefined && flags['trusted-proxy'].length > 0) {
    guard.trustedProxies = [...(guard.trustedProxies ?? []), ...flags['trusted-proxy'].flatMap((t) => t.split(',').map((s) => s.trim()).filter(Boolean))]
    changed = true
  }
  if (flags['proxy-protocol'] !== undefined) {
    guard.proxyProtocol = flags['proxy-protocol'] as GuardConfigInput['proxyProtocol']
    changed = true
  }
  if (flags.flapping !== undefined) {
    guard.flapping = {...guard.flapping, enabled: flags.flapping}
    changed = true
  }
  if (flags['tls-min-version'] !== undefined) {
    guard.tlsMinVersion = flags['tls-min-version'] as GuardConfigInput['tlsMinVersion']
    changed = true
  }
  if (changed) input.guard = guard
}
