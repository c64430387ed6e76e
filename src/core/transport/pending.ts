/**
 * Sockets that are not serving MQTT yet: accepted, but still in their TLS handshake, their
 * HTTP upgrade or before CONNECT (reliability.md F3). Two guards, set up once per socket
 * (nothing here runs per packet):
 *
 * - a cap per remote address (limits.maxPendingPerAddress): one host cannot hold thousands
 *   of half-open sockets. A socket counts from its accept until the broker has answered its
 *   CONNECT (releasePending) or it closes; past the cap a new socket is closed at once and
 *   counted as `max-pending` in its listener's `rejected`.
 * - a deadline for the WebSocket handshake (the connect timeout): Node's HTTP server would
 *   wait 60 s for slow headers (headersTimeout, checked only every 30 s).
 *
 * Listeners reach the socket through symbols, and the timer gets the socket as an argument:
 * no closure per connection.
 */
import type {Socket} from 'node:net'
import {countRejected} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'

// Registered symbols: the transports load this module lazily (transports.ts), and a loader
// may then hold a second copy of it, which must still see the same marks on a socket.
const kAddress = Symbol.for('mqttws.pendingAddress')
const kStats = Symbol.for('mqttws.pendingStats')
const kDeadline = Symbol.for('mqttws.handshakeDeadline')

type PendingSocket = Socket & {
  [kAddress]?: string
  [kStats]?: ListenerStats
  [kDeadline]?: NodeJS.Timeout
  /** Node's server-side TLSSocket keeps the TCP socket it wraps here (what was counted at accept). */
  _parent?: Socket
}

/**
 * Counts a newly accepted socket against its address's pending sockets; false (and counted
 * as rejected `max-pending`) when that address already has `max`. 0: no limit, nothing counted.
 */
export function admitPending(stats: ListenerStats, socket: Socket, max: number): boolean {
  if (max <= 0) return true
  const address = socket.remoteAddress ?? '?'
  const n = stats.pending.get(address) ?? 0
  if (n >= max) {
    countRejected(stats, 'max-pending')
    return false
  }
  stats.pending.set(address, n + 1)
  const s = socket as PendingSocket
  s[kAddress] = address
  s[kStats] = stats
  socket.on('close', onPendingClose)
  return true
}

/** The socket serves MQTT now (CONNACK sent) or is gone: it no longer counts. Safe to call twice. */
export function releasePending(socket: Socket | undefined): void {
  let s = socket as PendingSocket | undefined
  if (s !== undefined && s[kStats] === undefined) s = (s._parent ?? undefined) as PendingSocket | undefined
  const stats = s?.[kStats]
  if (s === undefined || stats === undefined) return
  const address = s[kAddress]!
  s[kStats] = undefined
  const n = (stats.pending.get(address) ?? 1) - 1
  if (n > 0) stats.pending.set(address, n)
  else stats.pending.delete(address)
}

function onPendingClose(this: Socket): void {
  releasePending(this)
}

/** Closes the socket after `ms` unless clearHandshakeDeadline comes first; counted as `handshake-timeout`. */
export function armHandshakeDeadline(socket: Socket, ms: number, stats: ListenerStats, onTimeout: (socket: Socket) => void): void {
  const s = socket as PendingSocket
  s[kDeadline] = setTimeout(onDeadline, ms, socket, stats, onTimeout)
  socket.on('close', clearDeadlineOnClose)
}

/** The handshake completed: the connect timeout of the MQTT connection takes over. */
export function clearHandshakeDeadline(socket: Socket): void {
  let s = socket as PendingSocket
  if (s[kDeadline] === undefined && s._parent != null) s = s._parent as PendingSocket
  const timer = s[kDeadline]
  if (timer === undefined) return
  clearTimeout(timer)
  s[kDeadline] = undefined
}

function clearDeadlineOnClose(this: Socket): void {
  clearHandshakeDeadline(this)
}

function onDeadline(socket: Socket, stats: ListenerStats, onTimeout: (socket: Socket) => void): void {
  ;(socket as PendingSocket)[kDeadline] = undefined
  if (socket.destroyed) return
  countRejected(stats, 'handshake-timeout')
  onTimeout(socket)
  socket.destroy()
}
