/**
 * IP addresses and networks (CIDR) for bans and trusted proxies: IPv4, IPv6 and
 * IPv4-mapped IPv6 ("::ffff:10.0.0.1" is 10.0.0.1, as Node's BlockList has it). Parsing
 * happens once (configuration, admin API); matching is a BlockList check per connection.
 */
import net from 'node:net'
import {ConfigError} from '../errors.js'

export interface Network {
  /** As written back: "10.0.0.0/8", "2001:db8::/32", "192.0.2.7" (a single address). */
  readonly text: string
  readonly family: 'ipv4' | 'ipv6'
  readonly address: string
  readonly prefix: number
}

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i

/** An address without brackets, zone or IPv4 mapping ("::ffff:1.2.3.4" → "1.2.3.4"); undefined when it is not an IP address. */
export function normalizeIp(text: string): string | undefined {
  let a = text.trim()
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1)
  const zone = a.indexOf('%')
  if (zone !== -1) a = a.slice(0, zone)
  const m = MAPPED.exec(a)
  if (m) a = m[1]
  return net.isIP(a) === 0 ? undefined : a.toLowerCase()
}

/** Parses "10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104" or a single address; throws ConfigError naming `where`. */
export function parseNetwork(text: unknown, where: string): Network {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ConfigError(`${where} is ${JSON.stringify(text)}: give an IP address or network such as 192.0.2.7, 10.0.0.0/8 or 2001:db8::/32`)
  }
  const t = text.trim()
  const slash = t.indexOf('/')
  const addrText = slash === -1 ? t : t.slice(0, slash)
  const family = net.isIP(addrText)
  if (family === 0) throw new ConfigError(`${where} "${t}" is not an IP address or network: write it as 192.0.2.7, 10.0.0.0/8 or 2001:db8::/32`)
  const max = family === 4 ? 32 : 128
  let prefix = max
  if (slash !== -1) {
    const p = t.slice(slash + 1)
    prefix = /^\d{1,3}$/.test(p) ? Number(p) : Number.NaN
    if (!(prefix >= 0 && prefix <= max)) throw new ConfigError(`${where} "${t}" has prefix length "/${p}": an IPv${family} prefix is 0 to ${max}`)
  }
  // An IPv4-mapped IPv6 network is the IPv4 network it maps.
  const mapped = MAPPED.exec(addrText)
  if (family === 6 && mapped && prefix >= 96) {
    return Object.freeze({text: t, family: 'ipv4', address: mapped[1], prefix: prefix - 96})
  }
  return Object.freeze({text: t, family: family === 4 ? 'ipv4' : 'ipv6', address: addrText.toLowerCase(), prefix})
}

/** A set of networks; `has` takes an address as the socket gives it (IPv4, IPv6, IPv4-mapped). */
export class AddressSet {
  readonly networks: readonly Network[]
  private readonly list = new net.BlockList()

  constructor(networks: readonly Network[]) {
    this.networks = networks
    for (const n of networks) this.list.addSubnet(n.address, n.prefix, n.family)
  }

  get size(): number {
    return this.networks.length
  }

  has(address: string | undefined): boolean {
    if (address === undefined || this.networks.length === 0) return false
    const a = normalizeIp(address)
    if (a === undefined) return false
    return this.list.check(a, a.includes(':') ? 'ipv6' : 'ipv4')
  }
}

/** The host part of a Connection's `remote` ("1.2.3.4:5", "[::1]:5") as a normalized address, or undefined. */
export function hostOfRemote(remote: string): string | undefined {
  const m = /^\[(.*)\](?::\d*)?$/.exec(remote)
  if (m) return normalizeIp(m[1])
  const colon = remote.lastIndexOf(':')
  if (colon > 0 && remote.indexOf(':') === colon) return normalizeIp(remote.slice(0, colon))
  return normalizeIp(remote)
}

/** "1.2.3.4:5" or "[2001:db8::1]:5": the form of Connection.remote. */
export function formatRemote(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`
}
