/**
 * The PROXY protocol (HAProxy, versions 1 and 2: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt),
 * which a load balancer sends at the start of a TCP connection to say whose it is. Parsed
 * incrementally from the first bytes of a socket; only headers from trusted proxies are
 * believed (transport/proxy-socket.ts). An MQTT connection starts with CONNECT (0x10), so a
 * first byte of "P" (v1) or "\r" (v2) can only be a PROXY header.
 */

/** The 12-byte signature of version 2. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const V1_PREFIX = Buffer.from('PROXY ')
/** A v1 header is at most 107 bytes, CRLF included. */
const V1_MAX = 107
/** Largest v2 header accepted (16 + address block with TLVs). */
export const V2_MAX = 16 + 4096

export interface ProxyHeader {
  version: 1 | 2
  /** false: v2 LOCAL or v1 UNKNOWN — the connection is the proxy's own (health check): use the socket's address. */
  proxied: boolean
  source?: {address: string; port: number}
  destination?: {address: string; port: number}
}

export type ProxyParse =
  | {state: 'more'}
  | {state: 'none'}
  | {state: 'done'; header: ProxyHeader; length: number}
  | {state: 'error'; message: string}

/** Whether these first bytes start (or could start) a PROXY header. */
export function looksLikeProxy(first: number): boolean {
  return first === 0x50 /* P */ || first === 0x0d
}

/**
 * Parses a PROXY header at the start of `buf`: 'more' when more bytes are needed, 'none'
 * when this is not a PROXY header at all, 'done' with its length, or 'error' saying what
 * is wrong.
 */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return {state: 'more'}
  if (buf[0] === 0x50) return parseV1(buf)
  if (buf[0] === 0x0d) return parseV2(buf)
  return {state: 'none'}
}

function prefixMatches(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length)
  return buf.subarray(0, n).equals(prefix.subarray(0, n))
}

const V1_IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/
const V1_PORT = /^(?:0|[1-9]\d{0,4})$/

function parseV1(buf: Buffer): ProxyParse {
  if (!prefixMatches(buf, V1_PREFIX)) return {state: 'error', message: 'the connection starts with "P" but not with a PROXY protocol v1 header ("PROXY ")'}
  const end = buf.indexOf('\r\n')
  if (end === -1) {
    return buf.length >= V1_MAX ? {state: 'error', message: `PROXY v1 header longer than ${V1_MAX} bytes without CRLF`} : {state: 'more'}
  }
  if (end + 2 > V1_MAX) return {state: 'error', message: `PROXY v1 header longer than ${V1_MAX} bytes`}
  const line = buf.toString('latin1', 0, end)
  const parts = line.split(' ')
  const length = end + 2
  if (parts[1] === 'UNKNOWN') return {state: 'done', header: {version: 1, proxied: false}, length}
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) {
    return {state: 'error', message: `malformed PROXY v1 header "${line.slice(0, 120)}": expected PROXY TCP4|TCP6 SRC DST SPORT DPORT`}
  }
  const [, family, src, dst, sport, dport] = parts
  const okAddr = (a: string): boolean => (family === 'TCP4' ? V1_IPV4.test(a) && a.split('.').every((o) => Number(o) <= 255) : isIpv6(a))
  const okPort = (p: string): boolean => V1_PORT.test(p) && Number(p) <= 65535
  if (!okAddr(src) || !okAddr(dst) || !okPort(sport) || !okPort(dport)) {
    return {state: 'error', message: `malformed PROXY v1 header "${line.slice(0, 120)}": bad ${family} address or port`}
  }
  return {state: 'done', header: {version: 1, proxied: true, source: {address: src.toLowerCase(), port: Number(sport)}, destination: {address: dst.toLowerCase(), port: Number(dport)}}, length}
}

function isIpv6(a: string): boolean {
  return /^[0-9a-fA-F:.]+$/.test(a) && a.includes(':') && ipv6Ok(a)
}

function ipv6Ok(a: string): boolean {
  // Defer the fine print to the URL parser (it knows every IPv6 form).
  try {
    return new URL(`http://[${a}]/`).hostname !== ''
  } catch {
    return false
  }
}

function ipv6Text(b: Buffer, at: number): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(at + i).toString(16))
  // The canonical short form (URL does the :: compression).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
}

function parseV2(buf: Buffer): ProxyParse {
  if (!prefixMatches(buf, PROXY_V2_SIGNATURE)) return {state: 'error', message: 'the connection starts with CR but not with the PROXY protocol v2 signature'}
  if (buf.length < 16) return {state: 'more'}
  const verCmd = buf[12]
  if (verCmd >> 4 !== 2) return {state: 'error', message: `PROXY v2 header with version ${verCmd >> 4}: only version 2 exists`}
  const command = verCmd & 0x0f
  if (command > 1) return {state: 'error', message: `PROXY v2 header with command ${command}: only LOCAL (0) and PROXY (1) exist`}
  const fam = buf[13]
  const len = buf.readUInt16BE(14)
  const length = 16 + len
  if (length > V2_MAX) return {state: 'error', message: `PROXY v2 header of ${length} bytes: at most ${V2_MAX} are accepted`}
  if (buf.length < length) return {state: 'more'}
  // LOCAL: the proxy's own connection (health check); the addresses, if any, are ignored.
  if (command === 0) return {state: 'done', header: {version: 2, proxied: false}, length}
  const family = fam >> 4
  const transport = fam & 0x0f
  if (family === 0 || transport === 0) return {state: 'done', header: {version: 2, proxied: false}, length} // UNSPEC: keep the socket's address
  if (transport !== 1 && transport !== 2) return {state: 'error', message: `PROXY v2 header with transport ${transport}: expected STREAM (1) or DGRAM (2)`}
  if (family === 1) {
    if (len < 12) return {state: 'error', message: `PROXY v2 header for IPv4 with an address block of ${len} bytes: it needs 12`}
    const ip = (at: number): string => `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`
    return {state: 'done', header: {version: 2, proxied: true, source: {address: ip(16), port: buf.readUInt16BE(24)}, destination: {address: ip(20), port: buf.readUInt16BE(26)}}, length}
  }
  if (family === 2) {
    if (len < 36) return {state: 'error', message: `PROXY v2 header for IPv6 with an address block of ${len} bytes: it needs 36`}
    return {state: 'done', header: {version: 2, proxied: true, source: {address: ipv6Text(buf, 16), port: buf.readUInt16BE(48)}, destination: {address: ipv6Text(buf, 32), port: buf.readUInt16BE(50)}}, length}
  }
  if (family === 3) return {state: 'done', header: {version: 2, proxied: false}, length} // AF_UNIX: no IP to take
  return {state: 'error', message: `PROXY v2 header with address family ${family}: expected INET (1), INET6 (2) or UNIX (3)`}
}
