/**
 * Counters per listener, incremented where things happen. Plain integers on a plain
 * object: no allocation, nothing measurable on the hot path. The object outlives the
 * listener's socket, so a stopped and restarted listener keeps counting on.
 *
 * Bytes are read from the sockets themselves (socket.bytesRead/bytesWritten) when someone
 * asks (listenerSnapshot), not counted per write: open sockets are summed then, and a
 * socket adds its final counts to bytesIn/bytesOut when it closes.
 */
import type {Socket} from 'node:net'

/** Why a connection was refused; every reason is always present in a snapshot (0 when none). */
export const REJECT_REASONS = [
  'path',
  'subprotocol',
  'origin',
  'upgrade',
  'http',
  'tls',
  'auth',
  /** A WebSocket upgrade whose token (Authorization: Bearer, query parameter) was not valid: HTTP 401. */
  'token',
  /** A WebSocket upgrade whose token could not be checked (JWKS unreachable): HTTP 503. */
  'auth-backend',
  'max-connections',
  'max-pending',
  'handshake-timeout',
  'malformed-connect',
  'text-frame',
  // Abuse protection (src/core/guard): a ban, flapping, the listener's connection rate, a bad or untrusted PROXY header.
  'banned',
  'flapping',
  'connection-rate',
  'proxy',
] as const
export type RejectReason = (typeof REJECT_REASONS)[number]

export interface ListenerStats {
  connections: number
  peakConnections: number
  accepted: number
  /** Handshake and connection rejections by reason: wrong path, subprotocol, TLS, auth... */
  rejected: Record<string, number>
  wsFramesIn: number
  wsFramesOut: number
  /** MQTT packets decoded from, and written to, this listener's connections. */
  packetsIn: number
  packetsOut: number
  /** Application messages published by this listener's clients, and delivered to them. */
  messagesIn: number
  messagesOut: number
  /** PUBLISH over the client's rate (limits.messageRate/byteRate): QoS 0 dropped, QoS 1/2 refused (MQTT 5: 0x97). */
  rateDropped: number
  rateRefused: number
  /** Refused by authorization: PUBLISHes (and Wills), subscriptions, and messages not delivered to this listener's clients. */
  deniedPublish: number
  deniedSubscribe: number
  deniedDelivery: number
  /** Socket bytes of connections already closed (open ones are read at query time). */
  bytesIn: number
  bytesOut: number
  /** The raw TCP/TLS sockets of open connections, to read their byte counts on demand. */
  readonly sockets: Set<Socket>
  /** Sockets not serving MQTT yet (handshake, upgrade, before CONNACK) by remote address (pending.ts). */
  readonly pending: Map<string, number>
  /** CONNECTs refused by authentication, by reason (countAuthFailure); their total is rejected.auth. */
  readonly authFailures: Record<string, number>
}

/** Short names of the CONNACK codes authentication refuses with. */
const AUTH_FAILURE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x86: 'bad-credentials',
  0x87: 'not-authorized',
  0x88: 'unavailable',
  0x89: 'busy',
  0x8a: 'banned',
  0x8c: 'bad-method',
})

/** A CONNECT refused by authentication with this reason code: rejected.auth and authFailures by reason. */
export function countAuthFailure(stats: ListenerStats, reasonCode: number | undefined): void {
  countRejected(stats, 'auth')
  const name = reasonCode === undefined ? 'other' : (AUTH_FAILURE_NAMES[reasonCode] ?? `0x${reasonCode.toString(16)}`)
  stats.authFailures[name] = (stats.authFailures[name] ?? 0) + 1
}

export function newListenerStats(): ListenerStats {
  const rejected: Record<string, number> = {}
  for (const r of REJECT_REASONS) rejected[r] = 0
  return {
    connections: 0,
    peakConnections: 0,
    accepted: 0,
    rejected,
    wsFramesIn: 0,
    wsFramesOut: 0,
    packetsIn: 0,
    packetsOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    rateDropped: 0,
    rateRefused: 0,
    deniedPublish: 0,
    deniedSubscribe: 0,
    deniedDelivery: 0,
    bytesIn: 0,
    bytesOut: 0,
    sockets: new Set(),
    pending: new Map(),
    authFailures: {},
  }
}

export function countRejected(stats: ListenerStats, reason: string): void {
  stats.rejected[reason] = (stats.rejected[reason] ?? 0) + 1
}

const kStats = Symbol('listenerStats')
type TrackedSocket = Socket & {[kStats]?: ListenerStats}

function onTrackedClose(this: TrackedSocket): void {
  const stats = this[kStats]
  if (stats === undefined || !stats.sockets.delete(this)) return
  stats.bytesIn += this.bytesRead
  stats.bytesOut += this.bytesWritten
}

/** Counts a connection's socket bytes in `stats` (once per connection, not per message). */
export function trackSocket(stats: ListenerStats, socket: Socket): void {
  const s = socket as TrackedSocket
  if (s[kStats] !== undefined) return
  s[kStats] = stats
  stats.sockets.add(socket)
  socket.on('close', onTrackedClose)
}

export interface ListenerCounters {
  connections: {current: number; peak: number; accepted: number; rejected: Record<string, number>; rejectedTotal: number; authFailures: Record<string, number>}
  bytes: {in: number; out: number}
  packets: {in: number; out: number}
  wsFrames: {in: number; out: number}
  messages: {published: number; delivered: number}
  /** PUBLISH over the client's rate: QoS 0 dropped, QoS 1/2 refused. */
  rateLimited: {dropped: number; refused: number}
  /** Refused by authorization (ACL): PUBLISHes, subscriptions (per filter), deliveries. */
  denied: {publish: number; subscribe: number; delivery: number}
}

/** A JSON-ready copy of the counters, with the bytes of open sockets read now. */
export function listenerSnapshot(stats: ListenerStats): ListenerCounters {
  let bytesIn = stats.bytesIn
  let bytesOut = stats.bytesOut
  for (const s of stats.sockets) {
    bytesIn += s.bytesRead
    bytesOut += s.bytesWritten
  }
  let rejectedTotal = 0
  for (const k in stats.rejected) rejectedTotal += stats.rejected[k]
  return {
    connections: {current: stats.connections, peak: stats.peakConnections, accepted: stats.accepted, rejected: {...stats.rejected}, rejectedTotal, authFailures: {...stats.authFailures}},
    bytes: {in: bytesIn, out: bytesOut},
    packets: {in: stats.packetsIn, out: stats.packetsOut},
    wsFrames: {in: stats.wsFramesIn, out: stats.wsFramesOut},
    messages: {published: stats.messagesIn, delivered: stats.messagesOut},
    rateLimited: {dropped: stats.rateDropped, refused: stats.rateRefused},
    denied: {publish: stats.deniedPublish, subscribe: stats.deniedSubscribe, delivery: stats.deniedDelivery},
  }
}

/** Adds b into a (for broker-wide totals). */
export function addCounters(a: ListenerCounters, b: ListenerCounters): void {
  a.connections.current += b.connections.current
  a.connections.peak += b.connections.peak
  a.connections.accepted += b.connections.accepted
  a.connections.rejectedTotal += b.connections.rejectedTotal
  for (const k in b.connections.rejected) a.connections.rejected[k] = (a.connections.rejected[k] ?? 0) + b.connections.rejected[k]
  for (const k in b.connections.authFailures) a.connections.authFailures[k] = (a.connections.authFailures[k] ?? 0) + b.connections.authFailures[k]
  a.bytes.in += b.bytes.in
  a.bytes.out += b.bytes.out
  a.packets.in += b.packets.in
  a.packets.out += b.packets.out
  a.wsFrames.in += b.wsFrames.in
  a.wsFrames.out += b.wsFrames.out
  a.messages.published += b.messages.published
  a.messages.delivered += b.messages.delivered
  a.rateLimited.dropped += b.rateLimited.dropped
  a.rateLimited.refused += b.rateLimited.refused
  a.denied.publish += b.denied.publish
  a.denied.subscribe += b.denied.subscribe
  a.denied.delivery += b.denied.delivery
}

export function emptyCounters(): ListenerCounters {
  return listenerSnapshot(newListenerStats())
}
