/**
 * What the transports do for the abuse protection (src/core/guard) when a socket is
 * accepted, before MQTT (or TLS) starts: the listener's connection rate, and the PROXY
 * protocol header of a trusted proxy. Set up once per socket, only when configured; the
 * listeners reach their state through symbols (no closure per connection).
 */
import type {Socket} from 'node:net'
import type {ListenerConfig} from '../config.js'
import {formatRemote, normalizeIp} from '../guard/address.js'
import {parseProxyHeader} from '../guard/proxy-protocol.js'
import {newBucket, take} from '../guard/rate-limit.js'
import type {Bucket} from '../guard/rate-limit.js'
import {countRejected} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'
import {armHandshakeDeadline, clearHandshakeDeadline} from './pending.js'
import type {ListenHooks} from './types.js'

// Registered symbols: a lazily loaded transport may see a second copy of this module.
const kRateBucket = Symbol.for('mqttws.connectionRateBucket')
const kProxy = Symbol.for('mqttws.proxyHeaderState')
const kProxyRemote = Symbol.for('mqttws.proxyRemote')

export interface AcceptContext {
  config: ListenerConfig
  stats: ListenerStats
  hooks: ListenHooks
}

type RateStats = ListenerStats & {[kRateBucket]?: Bucket}

function remoteText(socket: Socket): string {
  const a = socket.remoteAddress ?? '?'
  return formatRemote(a, socket.remotePort ?? 0)
}

/**
 * limits.connectionRate: false (the socket destroyed, counted as `connection-rate`) when the
 * listener took its rate of new connections this second. No limit: true at once.
 */
export function admitConnectionRate(ctx: AcceptContext, socket: Socket): boolean {
  const rate = ctx.hooks.connectionRate
  if (rate === undefined || rate <= 0) return true
  const stats = ctx.stats as RateStats
  const now = Date.now()
  const bucket = (stats[kRateBucket] ??= newBucket(rate, now))
  if (take(bucket, 1, now)) return true
  countRejected(stats, 'connection-rate')
  ctx.hooks.onRejected(ctx.config.id, 'connection-rate', `${remoteText(socket)}: more than ${rate} new connections per second on this listener (limits.connectionRate)`)
  socket.on('error', ignore)
  socket.destroy()
  return false
}

function ignore(): void {}

/**
 * limits.maxPendingPerAddress for this socket: a trusted proxy (guard.trustedProxies) carries
 * the connections of many clients, so its own address is not capped (0); its clients' are
 * what bans and flapping detection then see.
 */
export function pendingLimit(hooks: ListenHooks, socket: Socket): number {
  const max = hooks.maxPendingPerAddress ?? 0
  return max > 0 && hooks.trustedProxies?.has(socket.remoteAddress) === true ? 0 : max
}

/** Where the socket goes once its PROXY header (if any) is read: `remote` is the client's, or undefined for the socket's own. */
export type AfterProxy<C extends AcceptContext> = (ctx: C, socket: Socket, remote: string | undefined) => void

interface ProxyState {
  ctx: AcceptContext
  next: AfterProxy<AcceptContext>
  trusted: boolean
  buf: Buffer
}

type ProxySocket = Socket & {[kProxy]?: ProxyState; [kProxyRemote]?: string}

/**
 * With trusted proxies configured (guard.trustedProxies): reads the first bytes of a TCP
 * socket for a PROXY protocol v1/v2 header. From a trusted proxy the header's source becomes
 * the client's address; a PROXY header from any other peer, a malformed one, or (with
 * guard.proxyProtocol "require") a trusted proxy's connection without one closes the socket,
 * counted as `proxy`. Without a header the socket's own address stands.
 */
export function readProxyHeader<C extends AcceptContext>(ctx: C, socket: Socket, next: AfterProxy<C>): void {
  const s = socket as ProxySocket
  s[kProxy] = {ctx, next: next as AfterProxy<AcceptContext>, trusted: ctx.hooks.trustedProxies?.has(socket.remoteAddress) === true, buf: Buffer.alloc(0)}
  if (ctx.hooks.connectTimeoutMs !== undefined) armHandshakeDeadline(socket, ctx.hooks.connectTimeoutMs, ctx.stats, onProxyTimeout)
  socket.on('data', onProxyData)
}

function onProxyTimeout(socket: Socket): void {
  const st = (socket as ProxySocket)[kProxy]
  if (st === undefined) return
  st.ctx.hooks.onRejected(st.ctx.config.id, 'handshake-timeout', `${remoteText(socket)}: no complete PROXY protocol header or CONNECT within ${st.ctx.hooks.connectTimeoutMs} ms`)
}

function onProxyData(this: ProxySocket, chunk: Buffer): void {
  const st = this[kProxy]
  if (st === undefined) return
  st.buf = st.buf.length === 0 ? chunk : Buffer.concat([st.buf, chunk])
  const r = parseProxyHeader(st.buf)
  if (r.state === 'more') return
  if (r.state === 'error') return refuseProxy(this, st, r.message)
  if (r.state === 'none') {
    if (st.trusted && st.ctx.hooks.proxyProtocol === 'require') return refuseProxy(this, st, 'no PROXY protocol header from a trusted proxy (guard.proxyProtocol is "require")')
    return finish(this, st, 0, undefined)
  }
  if (!st.trusted) return refuseProxy(this, st, 'a PROXY protocol header from a peer that is not a trusted proxy (guard.trustedProxies)')
  const src = r.header.proxied ? r.header.source : undefined
  return finish(this, st, r.length, src === undefined ? undefined : formatRemote(normalizeIp(src.address) ?? src.address, src.port))
}

function refuseProxy(socket: ProxySocket, st: ProxyState, message: string): void {
  socket.off('data', onProxyData)
  socket[kProxy] = undefined
  clearHandshakeDeadline(socket)
  countRejected(st.ctx.stats, 'proxy')
  st.ctx.hooks.onRejected(st.ctx.config.id, 'proxy', `${remoteText(socket)}: ${message}`)
  socket.on('error', ignore)
  socket.destroy()
}

function finish(socket: ProxySocket, st: ProxyState, length: number, remote: string | undefined): void {
  socket.off('data', onProxyData)
  socket.pause()
  socket[kProxy] = undefined
  clearHandshakeDeadline(socket)
  const rest = st.buf.subarray(length)
  if (rest.length > 0) socket.unshift(rest)
  if (remote !== undefined) socket[kProxyRemote] = remote
  st.next(st.ctx, socket, remote)
}

/** The client address a PROXY header gave for this socket (or the socket a TLSSocket wraps), if any. */
export function proxiedRemote(socket: Socket): string | undefined {
  const s = socket as ProxySocket & {_parent?: ProxySocket | null}
  return s[kProxyRemote] ?? s._parent?.[kProxyRemote] ?? undefined
}
