/**
 * Turns the ways users name a broker (a URL, or host/port/protocol/path as mosquitto_pub
 * and MQTTX take them) and a protocol version spelling into validated client settings.
 */
import {ConfigError, ErrorCode, MqttwsError} from '../errors.js'
import type {ProtocolVersion} from '../protocol/codec.js'

export type ClientProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss'

export interface BrokerAddress {
  url?: string
  host?: string
  port?: number
  protocol?: ClientProtocol
  /** WebSocket path (default /mqtt). */
  path?: string
}

const DEFAULT_PORT: Record<ClientProtocol, number> = {mqtt: 1883, mqtts: 8883, ws: 8083, wss: 8084}

/** Builds the broker URL; a full URL wins, host/port/protocol/path fill a default one. */
export function brokerUrl(a: BrokerAddress): URL {
  if (a.url !== undefined) {
    if (a.host !== undefined || a.port !== undefined || a.protocol !== undefined) {
      throw new ConfigError('give the broker either as a URL (-L) or as host/port/protocol (-h/-p/--protocol), not both')
    }
    let url: URL
    try {
      url = new URL(a.url)
    } catch {
      throw new ConfigError(`"${a.url}" is not a URL: write it as mqtt://HOST:PORT, mqtts://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH`)
    }
    if (!['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:', 'tls:'].includes(url.protocol)) {
      throw new ConfigError(`"${a.url}" has the scheme "${url.protocol}": use mqtt://, mqtts://, ws:// or wss://`)
    }
    if (a.path !== undefined && (url.protocol === 'ws:' || url.protocol === 'wss:') && url.pathname === '/') url.pathname = a.path
    return url
  }
  const protocol = a.protocol ?? 'mqtt'
  const host = a.host ?? 'localhost'
  const port = a.port ?? DEFAULT_PORT[protocol]
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`port ${port} is out of range: a port is 1 to 65535`)
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  const path = protocol === 'ws' || protocol === 'wss' ? (a.path ?? '/mqtt') : ''
  if (path !== '' && !path.startsWith('/')) throw new ConfigError(`WebSocket path "${path}" must start with /, e.g. /mqtt`)
  try {
    return new URL(`${protocol}://${h}:${port}${path}`)
  } catch {
    throw new ConfigError(`host "${host}" is not a valid host name or address`)
  }
}

const VERSIONS: Record<string, ProtocolVersion> = {
  '3': 3,
  '3.1': 3,
  '31': 3,
  mqttv31: 3,
  '4': 4,
  '3.1.1': 4,
  '311': 4,
  mqttv311: 4,
  '5': 5,
  '5.0': 5,
  '50': 5,
  mqttv5: 5,
}

/** "3.1" | "3.1.1" | "5" (and mosquitto's mqttv31/mqttv311/mqttv5) → protocol level. */
export function parseProtocolVersion(text: string): ProtocolVersion {
  const v = VERSIONS[text.toLowerCase()]
  if (v === undefined) throw new ConfigError(`protocol version "${text}" is not one of 3.1, 3.1.1, 5 (or, as mosquitto writes them, 31, 311, mqttv31, mqttv311, mqttv5)`)
  return v
}

/** "K: V" → [K, V], for -H/--header. */
export function parseHeader(text: string): [string, string] {
  const i = text.indexOf(':')
  const name = i > 0 ? text.slice(0, i).trim() : ''
  if (i <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new ConfigError(`header "${text}" is not "Name: value"`)
  return [name, text.slice(i + 1).trim()]
}

/** "k=v" → [k, v], for -D/--user-property. */
export function parseUserProperty(text: string): [string, string] {
  const i = text.indexOf('=')
  if (i <= 0) throw new ConfigError(`user property "${text}" is not key=value`)
  return [text.slice(0, i), text.slice(i + 1)]
}

/** Collects repeated key=value pairs the way MQTT 5 user properties are modelled (repeats become arrays). */
export function userProperties(pairs: ReadonlyArray<[string, string]>): Record<string, string | string[]> | undefined {
  if (pairs.length === 0) return undefined
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of pairs) {
    const prev = out[k]
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
  }
  return out
}

/** "packet" | "piggyback" | "split:N" → the WebSocket framing mode. */
export function parseFraming(text: string): 'packet' | 'piggyback' | {splitBytes: number} {
  if (text === 'packet' || text === 'piggyback') return text
  const m = /^split:(\d+)$/.exec(text)
  if (m && Number(m[1]) >= 1) return {splitBytes: Number(m[1])}
  throw new ConfigError(`WebSocket framing "${text}" is not one of packet, piggyback, split:N (N ≥ 1 bytes per frame)`)
}

/** Parses a broker URL, with a message that shows the expected form. */
export function parseUrl(text: string): URL {
  try {
    return new URL(text)
  } catch {
    throw new MqttwsError(ErrorCode.CONFIG, `"${text}" is not a URL: write it as mqtt://HOST:PORT, mqtts://…, ws://HOST:PORT/PATH or wss://…`)
  }
}
