/**
 * The client's address behind trusted HTTP proxies (WebSocket listeners): X-Forwarded-For,
 * else X-Real-IP, believed only when the socket's peer is a trusted proxy. From the right of
 * X-Forwarded-For, every hop that is itself a trusted proxy is skipped; the first one that is
 * not is the client (the right-most untrusted hop: whatever the client wrote further left is
 * not believed). EMQX takes the left-most entry without a trust check, which any client can forge.
 */
import type {IncomingHttpHeaders} from 'node:http'
import type {AddressSet} from './address.js'
import {normalizeIp} from './address.js'

/** One X-Forwarded-For entry as an address: "1.2.3.4", "1.2.3.4:5678", "[2001:db8::1]:443", "2001:db8::1". */
function entryAddress(entry: string): string | undefined {
  const e = entry.trim()
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(e)
  if (bracket) return normalizeIp(bracket[1])
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(e)
  if (v4port) return normalizeIp(v4port[1])
  return normalizeIp(e)
}

function headerText(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined
  return Array.isArray(v) ? v.join(',') : v
}

/**
 * The client's address for a WebSocket upgrade from `peer` (the socket's address): from the
 * headers when `peer` is a trusted proxy, else `peer` itself. Undefined: use the socket's.
 */
export function forwardedClient(peer: string | undefined, headers: IncomingHttpHeaders, trusted: AddressSet): string | undefined {
  if (peer === undefined || !trusted.has(peer)) return undefined
  const xff = headerText(headers['x-forwarded-for'])
  if (xff !== undefined && xff.trim() !== '') {
    const hops = xff.split(',')
    let client: string | undefined
    for (let i = hops.length - 1; i >= 0; i--) {
      const a = entryAddress(hops[i])
      // A hop that is not an address: what a trusted proxy wrote there cannot be read, so the
      // client is the last hop that could (the proxy itself when it is the right-most).
      if (a === undefined) break
      client = a
      if (!trusted.has(a)) break
    }
    return client
  }
  const real = headerText(headers['x-real-ip'])
  if (real !== undefined) return entryAddress(real.split(',')[0])
  return undefined
}
