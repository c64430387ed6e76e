/**
 * The abuse-protection settings (issue 13): the `bans` list and the `guard` section
 * (flapping detection, trusted proxies and the PROXY protocol, the TLS floor). The per-client
 * and per-listener rates live in `limits` (connectionRate, messageRate, byteRate) with the
 * other limits. resolveConfig (config.ts) calls resolveGuardConfig, so every entry point
 * gets the same errors. docs/broker.md ("Abuse protection") describes each setting.
 */
import {ConfigError} from '../errors.js'
import {parseNetwork} from './address.js'
import type {Network} from './address.js'

export type BanKind = 'clientId' | 'username' | 'address'
export const BAN_KINDS: readonly BanKind[] = Object.freeze(['clientId', 'username', 'address'])

/** A ban as a config file or the admin API gives it: exactly one of clientId, username, address. */
export interface BanInput {
  clientId?: string
  username?: string
  /** An IP address or network (CIDR), IPv4 or IPv6. */
  address?: string
  /** clientId/username is a regular expression (JavaScript syntax, matched against the whole value). */
  regex?: boolean
  /** When the ban ends: an ISO 8601 date or ms since the epoch. */
  until?: string | number
  /** Or: how long it lasts, in seconds from now. */
  duration?: number
  reason?: string
}

/** A validated ban (guard/bans.ts keeps them). */
export interface BanSpec {
  readonly kind: BanKind
  /** The client id, user name, pattern or network as given. */
  readonly value: string
  readonly regex: boolean
  /** ms since the epoch; undefined: until removed. */
  readonly until?: number
  readonly reason?: string
  readonly network?: Network
  readonly pattern?: RegExp
}

export interface FlappingConfig {
  /** Undefined: on when any authenticator is configured (a dev box without authentication is left alone). */
  readonly enabled?: boolean
  /** More CONNECTs than this of one client id within the window bans the id. */
  readonly maxConnects: number
  /** More CONNECTs than this from one address within the window bans the address; 0: not counted per address. */
  readonly maxConnectsPerAddress: number
  readonly windowMs: number
  /** How long a flapping client id or address stays banned. */
  readonly banMs: number
}

export type ProxyProtocolMode = 'auto' | 'require'
export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3'

export interface GuardConfig {
  readonly bans: readonly BanSpec[]
  readonly flapping: FlappingConfig
  /** Addresses whose X-Forwarded-For / X-Real-IP (WebSocket) and PROXY protocol header (TCP, TLS) are believed. */
  readonly trustedProxies: readonly Network[]
  /** auto: a trusted proxy may send a PROXY header; require: it must. */
  readonly proxyProtocol: ProxyProtocolMode
  /** The lowest TLS version mqtts:// and wss:// listeners accept (never below 1.2). */
  readonly tlsMinVersion: TlsMinVersion
}

export interface GuardConfigInput {
  flapping?: {enabled?: boolean; maxConnects?: number; maxConnectsPerAddress?: number; windowSeconds?: number; banSeconds?: number}
  trustedProxies?: string[]
  proxyProtocol?: ProxyProtocolMode
  tlsMinVersion?: TlsMinVersion | '1.2' | '1.3'
}

/** EMQX's flapping defaults: 15 connects in 1 minute → banned for 5 minutes. */
export const FLAPPING_DEFAULTS = Object.freeze({maxConnects: 15, maxConnectsPerAddress: 0, windowMs: 60_000, banMs: 300_000})

export const GUARD_DEFAULTS: GuardConfig = Object.freeze({
  bans: Object.freeze([]),
  flapping: FLAPPING_DEFAULTS,
  trustedProxies: Object.freeze([]),
  proxyProtocol: 'auto',
  tlsMinVersion: 'TLSv1.2',
})

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function checkKeys(where: string, value: Obj, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new ConfigError(`unknown setting "${where}.${key}": known settings here are ${allowed.join(', ')}`)
  }
}

function int(where: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`setting "${where}" is ${JSON.stringify(v)}: it must be a whole number from ${min} to ${max}`)
  }
  return v
}

/** Validates one ban; `where` names it in errors ("bans[2]", "the request"). `now` turns a duration into an end. */
export function resolveBan(input: unknown, where: string, now = Date.now()): BanSpec {
  if (!isObj(input)) throw new ConfigError(`${where} must be an object with one of clientId, username or address (and optionally regex, until or duration, reason)`)
  checkKeys(where, input, ['clientId', 'username', 'address', 'regex', 'until', 'duration', 'reason'])
  const kinds = BAN_KINDS.filter((k) => input[k] !== undefined)
  if (kinds.length !== 1) {
    throw new ConfigError(`${where} must name exactly one of clientId, username or address${kinds.length > 1 ? ` (it names ${kinds.join(' and ')}): make one ban each` : ''}`)
  }
  const kind = kinds[0]
  const value = input[kind]
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${where}.${kind} is ${JSON.stringify(value)}: it must be a non-empty string`)
  if (input.regex !== undefined && typeof input.regex !== 'boolean') throw new ConfigError(`${where}.regex is ${JSON.stringify(input.regex)}: it must be true or false`)
  const regex = input.regex === true
  let network: Network | undefined
  let pattern: RegExp | undefined
  if (kind === 'address') {
    if (regex) throw new ConfigError(`${where}: regex applies to clientId and username; ban a range of addresses with a network, e.g. 10.0.0.0/8`)
    network = parseNetwork(value, `${where}.address`)
  } else if (regex) {
    try {
      pattern = new RegExp(`^(?:${value})$`, 'u')
    } catch (error) {
      throw new ConfigError(`${where}.${kind} "${value}" is not a valid regular expression: ${(error as Error).message}`)
    }
  }
  if (input.until !== undefined && input.duration !== undefined) throw new ConfigError(`${where} has both until and duration: keep one`)
  let until: number | undefined
  if (input.until !== undefined) {
    until = typeof input.until === 'number' ? input.until : typeof input.until === 'string' ? Date.parse(input.until) : Number.NaN
    if (!Number.isFinite(until)) throw new ConfigError(`${where}.until is ${JSON.stringify(input.until)}: give an ISO 8601 date such as 2030-01-31T12:00:00Z, or ms since the epoch`)
  } else if (input.duration !== undefined) {
    until = now + int(`${where}.duration`, input.duration, 1, 100 * 365 * 86_400) * 1000
  }
  if (input.reason !== undefined && typeof input.reason !== 'string') throw new ConfigError(`${where}.reason must be a string`)
  const reason = typeof input.reason === 'string' && input.reason !== '' ? input.reason.slice(0, 200) : undefined
  return Object.freeze({
    kind,
    value: kind === 'address' ? network!.text : value,
    regex,
    ...(until === undefined ? {} : {until}),
    ...(reason === undefined ? {} : {reason}),
    ...(network === undefined ? {} : {network}),
    ...(pattern === undefined ? {} : {pattern}),
  })
}

function resolveFlapping(input: unknown): FlappingConfig {
  if (input === undefined) return FLAPPING_DEFAULTS
  const keys = ['enabled', 'maxConnects', 'maxConnectsPerAddress', 'windowSeconds', 'banSeconds']
  if (!isObj(input)) throw new ConfigError(`setting "guard.flapping" must be an object with ${keys.join(', ')}`)
  checkKeys('guard.flapping', input, keys)
  const out: {-readonly [K in keyof FlappingConfig]: FlappingConfig[K]} = {...FLAPPING_DEFAULTS}
  if (input.enabled !== undefined) {
    if (typeof input.enabled !== 'boolean') throw new ConfigError(`setting "guard.flapping.enabled" is ${JSON.stringify(input.enabled)}: it must be true or false`)
    out.enabled = input.enabled
  }
  if (input.maxConnects !== undefined) out.maxConnects = int('guard.flapping.maxConnects', input.maxConnects, 1, 1_000_000)
  if (input.maxConnectsPerAddress !== undefined) out.maxConnectsPerAddress = int('guard.flapping.maxConnectsPerAddress', input.maxConnectsPerAddress, 0, 10_000_000)
  if (input.windowSeconds !== undefined) out.windowMs = int('guard.flapping.windowSeconds', input.windowSeconds, 1, 86_400) * 1000
  if (input.banSeconds !== undefined) out.banMs = int('guard.flapping.banSeconds', input.banSeconds, 1, 365 * 86_400) * 1000
  return Object.freeze(out)
}

const TLS_VERSIONS: Record<string, TlsMinVersion> = {'TLSv1.2': 'TLSv1.2', 'TLSv1.3': 'TLSv1.3', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3'}

/** Validates `bans` (top level) and `guard`; undefined for both gives GUARD_DEFAULTS. */
export function resolveGuardConfig(bansIn: unknown, guardIn: unknown): GuardConfig {
  if (bansIn === undefined && guardIn === undefined) return GUARD_DEFAULTS
  if (bansIn !== undefined && !Array.isArray(bansIn)) throw new ConfigError('setting "bans" must be a list of {clientId | username | address, regex, until | duration, reason}')
  const now = Date.now()
  const bans = Object.freeze((bansIn ?? []).map((b: unknown, i: number) => resolveBan(b, `setting "bans[${i}]"`, now)))
  const g = guardIn ?? {}
  if (!isObj(g)) throw new ConfigError('setting "guard" must be an object with flapping, trustedProxies, proxyProtocol, tlsMinVersion')
  checkKeys('guard', g, ['flapping', 'trustedProxies', 'proxyProtocol', 'tlsMinVersion'])
  let trustedProxies: readonly Network[] = GUARD_DEFAULTS.trustedProxies
  if (g.trustedProxies !== undefined) {
    if (!Array.isArray(g.trustedProxies)) throw new ConfigError('setting "guard.trustedProxies" must be a list of addresses or networks, e.g. ["10.0.0.0/8", "::1"]')
    trustedProxies = Object.freeze(g.trustedProxies.map((t: unknown, i: number) => parseNetwork(t, `setting "guard.trustedProxies[${i}]"`)))
  }
  let proxyProtocol: ProxyProtocolMode = 'auto'
  if (g.proxyProtocol !== undefined) {
    if (g.proxyProtocol !== 'auto' && g.proxyProtocol !== 'require') {
      throw new ConfigError(`setting "guard.proxyProtocol" is ${JSON.stringify(g.proxyProtocol)}: use auto (a trusted proxy may send a PROXY header) or require (it must)`)
    }
    proxyProtocol = g.proxyProtocol
  }
  let tlsMinVersion: TlsMinVersion = 'TLSv1.2'
  if (g.tlsMinVersion !== undefined) {
    const v = typeof g.tlsMinVersion === 'string' ? TLS_VERSIONS[g.tlsMinVersion] : undefined
    if (v === undefined) throw new ConfigError(`setting "guard.tlsMinVersion" is ${JSON.stringify(g.tlsMinVersion)}: use TLSv1.2 or TLSv1.3 (older versions are not offered)`)
    tlsMinVersion = v
  }
  return Object.freeze({bans, flapping: resolveFlapping(g.flapping), trustedProxies, proxyProtocol, tlsMinVersion})
}
