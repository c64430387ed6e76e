/**
 * Listeners in the broker configuration: their types, URLs (mqtt://, mqtts://, ws://,
 * wss://), defaults and validation, for config.ts's resolveConfig and for listeners added at
 * runtime (resolveListenerInput).
 */
import {ConfigError} from './errors.js'
import {bool, checkKeys, isObj, oneOf, str} from './config-checks.js'
import type {Obj} from './config-checks.js'

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

export interface ListenerDefaults {
  readonly host: string
  readonly ws: WsOptions
  readonly tls?: TlsMaterial
  /** The admin API's origin (http://HOST:PORT), the default allowed origin of a listener with ws.authFromUpgrade. */
  readonly adminOrigin?: string
}

export interface ListenerInput {
  url: string
  id?: string
  ws?: Partial<WsOptions>
  tls?: TlsMaterial
}

export const DEFAULT_SUBPROTOCOLS = Object.freeze(['mqtt', 'mqttv3.1', 'mqtt-v3', 'mqtt-v3.1.1', 'mqtt-v5'])

/** Where listeners and the admin API go when nothing says otherwise. */
export const LISTENER_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  ports: Object.freeze({mqtt: 1883, ws: 8083, mqtts: 8883, wss: 8084}),
  ws: Object.freeze<WsOptions>({
    path: '/mqtt',
    subprotocols: DEFAULT_SUBPROTOCOLS,
    allowNoSubprotocol: false,
    piggyback: false,
    deflate: false,
  }),
  admin: Object.freeze({host: '127.0.0.1', port: 18083}),
})

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
  const port = portText === undefined || portText === '' ? LISTENER_DEFAULTS.ports[scheme] : Number(portText)
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
  const host = emptyHost ? (defaults.host ?? LISTENER_DEFAULTS.host) : url.hostname.replace(/^\[(.*)\]$/, '$1')
  const rawPath = url.pathname
  if (!isWs(scheme)) {
    if (rawPath !== '/' && rawPath !== '') {
      throw new ConfigError(`listener "${text}" has a path, but ${scheme}:// listeners have none: paths are for ws:// and wss://`)
    }
    return {scheme, host, port}
  }
  const path = rawPath === '/' && !/^[^/]*\/$/.test(m[2]) ? (defaults.path ?? LISTENER_DEFAULTS.ws.path) : rawPath
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
  const port = portText === undefined || portText === '' ? LISTENER_DEFAULTS.admin.port : Number(portText)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`admin address "${text}" has port ${portText}: a port is 0 to 65535`)
  return {host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port}
}

const WS_KEYS = ['path', 'subprotocols', 'allowNoSubprotocol', 'piggyback', 'deflate', 'origins', 'authFromUpgrade'] as const

export function resolveWs(where: string, base: WsOptions, input: unknown): WsOptions {
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

export function resolveTls(where: string, input: unknown): TlsMaterial | undefined {
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

export function defaultListeners(host: string, path: string, withTls: boolean): string[] {
  const h = bracket(host)
  const list = [`mqtt://${h}:${LISTENER_DEFAULTS.ports.mqtt}`, `ws://${h}:${LISTENER_DEFAULTS.ports.ws}${path}`]
  if (withTls) list.push(`mqtts://${h}:${LISTENER_DEFAULTS.ports.mqtts}`, `wss://${h}:${LISTENER_DEFAULTS.ports.wss}${path}`)
  return list
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

export function resolveListener(where: string, input: unknown, base: {host: string; ws: WsOptions; tls?: TlsMaterial; adminOrigin?: string}): ListenerConfig {
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
export function adminOriginOf(admin: {host: string; port: number} | false | undefined): string | undefined {
  if (admin === false) return undefined
  const {host, port} = admin ?? LISTENER_DEFAULTS.admin
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
