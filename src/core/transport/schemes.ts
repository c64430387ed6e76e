/** URL schemes and their default ports: cheap facts every dialer needs before loading a transport. */
import type {Scheme} from '../config.js'
import {ErrorCode, TransportError} from '../errors.js'

export const DEFAULT_PORTS: Record<Scheme, number> = {mqtt: 1883, mqtts: 8883, ws: 8083, wss: 8084}
const SCHEMES: Record<string, Scheme> = {'mqtt:': 'mqtt', 'tcp:': 'mqtt', 'mqtts:': 'mqtts', 'ssl:': 'mqtts', 'tls:': 'mqtts', 'ws:': 'ws', 'wss:': 'wss'}

export function schemeOf(url: URL): Scheme {
  const scheme = SCHEMES[url.protocol]
  if (!scheme) {
    throw new TransportError(`${url.href}: unknown scheme "${url.protocol}" — use mqtt://, mqtts://, ws:// or wss://`, {code: ErrorCode.CONFIG})
  }
  return scheme
}

/** The host of a URL without IPv6 brackets ("localhost" when empty). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost'
}

/** The port of a URL, or the scheme's default. */
export function portOf(url: URL, scheme: Scheme): number {
  return url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port)
}
