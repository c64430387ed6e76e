/**
 * MQTT over WebSocket (and over secure WebSocket). The HTTP server checks the path and
 * the subprotocol itself, so that a refused handshake gets a status and a one-line body
 * that says what to change. Then it completes the upgrade itself and runs the
 * connection on WsServerStream (our own framing: the fast path); only a listener with
 * permessage-deflate hands the upgrade to `ws` (WsStream over a ws WebSocket).
 */
import http from 'node:http'
import https from 'node:https'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Socket} from 'node:net'
import {WebSocketServer} from 'ws'
import type WebSocket from 'ws'
import type {ListenerConfig, WsOptions} from '../config.js'
import {listenerUrl} from '../config.js'
import {bind, closeServer} from './bind.js'
import {countRejected, newListenerStats} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'
import {DEFAULT_PORTS} from './schemes.js'
import {admitPending, armHandshakeDeadline, clearHandshakeDeadline} from './pending.js'
import {refusePending, remoteOf} from './tcp.js'
import {handshakeTimeout, secureContextOptions, tlsPeerCertificate} from './tls.js'
import {rejectTlsHandshake} from './tls-failure.js'
import {admitConnectionRate, pendingLimit} from './guard-accept.js'
import {forwardedClient} from '../guard/forwarded.js'
import {formatRemote} from '../guard/address.js'
import type {Connection, DialOptions, ListenHooks, Listener, Transport, UpgradeCheck, WriteMode} from './types.js'
import {dialWs} from './ws-dial.js'
import {CloseCode} from './ws-frame.js'
import {WsStream} from './ws-stream.js'
import {WsServerStream} from './ws-server-stream.js'
import {upgradeResponse} from './ws-handshake.js'

/** Splits a Sec-WebSocket-Protocol header (it may arrive as a comma-separated list). */
export function parseSubprotocols(header: string | undefined): string[] {
  if (header === undefined) return []
  const out: string[] = []
  for (const part of header.split(',')) {
    const v = part.trim()
    if (v !== '') out.push(v)
  }
  return out
}

/**
 * Chooses the subprotocol to echo: the first value the client offered that we support.
 * Returns null when the client offered none, false when none of its offers is supported.
 */
export function chooseSubprotocol(offered: readonly string[], supported: readonly string[]): string | null | false {
  if (offered.length === 0) return null
  for (const p of offered) {
    for (const s of supported) if (s.toLowerCase() === p.toLowerCase()) return p
  }
  return false
}

interface WsListenerState {
  config: ListenerConfig
  ws: WsOptions
  stats: ListenerStats
  hooks: ListenHooks
  /** Only with permessage-deflate: `ws` negotiates and runs the extension. */
  wss: WebSocketServer | undefined
  /** Reports a handshake that missed its deadline (one function per listener). */
  onHandshakeTimeout: (socket: Socket) => void
}

/** After the 'upgrade' event the HTTP server no longer listens for socket errors: a peer's reset must not throw. */
function ignoreSocketError(): void {}

function reject(state: WsListenerState, socket: Socket, status: number, reason: string, body: string, headers?: Record<string, string>): void {
  clearHandshakeDeadline(socket)
  socket.on('error', ignoreSocketError)
  countRejected(state.stats, reason)
  state.hooks.onRejected(state.config.id, reason, `${remoteOf(socket)}: ${status} ${body}`)
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const text = `${body}\n`
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      (headers === undefined ? '' : Object.entries(headers).map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, ' ')}\r\n`).join('')) +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  )
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

function onUpgrade(state: WsListenerState, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const {ws: opts} = state
  const path = pathOf(req)
  if (path !== opts.path) {
    return reject(state, socket, 404, 'path', `this broker serves MQTT over WebSocket on ${opts.path}, not on ${path}`)
  }
  const origin = req.headers.origin
  if (opts.origins !== undefined && origin !== undefined && !opts.origins.includes(origin)) {
    return reject(state, socket, 403, 'origin', `origin ${origin} is not allowed here: allowed origins are ${opts.origins.join(', ')}`)
  }
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    return reject(state, socket, 400, 'upgrade', `expected "Upgrade: websocket", got "${req.headers.upgrade ?? ''}"`)
  }
  const offered = parseSubprotocols(req.headers['sec-websocket-protocol'])
  const chosen = chooseSubprotocol(offered, opts.subprotocols)
  if (chosen === null && !opts.allowNoSubprotocol) {
    return reject(
      state,
      socket,
      400,
      'subprotocol',
      `no Sec-WebSocket-Protocol offered: MQTT clients must offer one of ${opts.subprotocols.join(', ')} (or start the broker with --ws-allow-no-subprotocol)`,
    )
  }
  if (chosen === false) {
    return reject(
      state,
      socket,
      400,
      'subprotocol',
      `none of the offered subprotocols (${offered.join(', ')}) is supported: offer one of ${opts.subprotocols.join(', ')}`,
    )
  }
  // Credentials in the upgrade request (a JWT as bearer or query token) are checked before the 101.
  const check = state.hooks.checkUpgrade?.({url: req.url ?? '/', headers: req.headers}, state.config.id)
  if (check === undefined) return completeUpgrade(state, req, socket, head, chosen)
  // Nothing is read meanwhile; the handshake deadline (pending.ts) still runs.
  socket.on('error', ignoreSocketError)
  socket.pause()
  check.then(
    (verdict) => afterCheck(state, req, socket, head, chosen, verdict),
    (error: Error) => afterCheck(state, req, socket, head, chosen, {ok: false, status: 503, reason: `authentication failed: ${error.message}`}),
  )
}

function afterCheck(state: WsListenerState, req: IncomingMessage, socket: Socket, head: Buffer, chosen: string | null, verdict: UpgradeCheck): void {
  if (socket.destroyed) return
  if (!verdict.ok) {
    const why = verdict.status === 401 ? 'token' : verdict.status === 503 ? 'auth-backend' : 'auth'
    return reject(state, socket, verdict.status, why, `the credentials of the upgrade request were refused: ${verdict.reason}`, verdict.headers)
  }
  socket.off('error', ignoreSocketError)
  completeUpgrade(state, req, socket, head, chosen)
  socket.resume()
}

function completeUpgrade(state: WsListenerState, req: IncomingMessage, socket: Socket, head: Buffer, chosen: string | null): void {
  const opts = state.ws
  if (!state.wss) return upgradeOwn(state, req, socket, head, chosen)
  state.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
    clearHandshakeDeadline(socket)
    const stream = new WsStream(ws, {piggyback: opts.piggyback, rawSocket: socket, stats: state.stats})
    state.hooks.onConnection(wsConnection(state, stream, socket, req, 'cork'))
  })
}

/** Connection.onPacketTooLarge on WebSocket: the close frame says it too (1009, Message Too Big). */
function wsPacketTooLarge(this: Connection): void {
  ;(this.stream as WsServerStream | WsStream).closeCode = CloseCode.MessageTooBig
}

function wsConnection(state: WsListenerState, stream: WsServerStream | WsStream, socket: Socket, req: IncomingMessage, writeMode: WriteMode): Connection {
  const {config, stats} = state
  return {
    stream,
    scheme: config.scheme,
    remote: clientRemote(state, socket, req),
    listenerId: config.id,
    stats,
    socket,
    writeMode,
    onPacketTooLarge: wsPacketTooLarge,
    ...(config.scheme === 'wss' ? {peerCertificate: tlsPeerCertificate} : {}),
    request: {url: req.url ?? '/', headers: req.headers},
  }
}

/**
 * The client's address: with trusted proxies (guard.trustedProxies), from X-Forwarded-For or
 * X-Real-IP when the socket's peer is one of them (the port is then unknown: 0); else the socket's.
 */
function clientRemote(state: WsListenerState, socket: Socket, req: IncomingMessage): string {
  const trusted = state.hooks.trustedProxies
  if (trusted === undefined) return remoteOf(socket)
  const client = forwardedClient(socket.remoteAddress, req.headers, trusted)
  return client === undefined ? remoteOf(socket) : formatRemote(client, 0)
}

/** Completes the handshake itself and hands the socket to WsServerStream (no permessage-deflate). */
function upgradeOwn(state: WsListenerState, req: IncomingMessage, socket: Socket, head: Buffer, protocol: string | null): void {
  if (req.method !== 'GET') return reject(state, socket, 405, 'upgrade', `a WebSocket handshake is a GET request, not ${req.method}`)
  const version = req.headers['sec-websocket-version']
  if (version !== '13') return reject(state, socket, 400, 'upgrade', `Sec-WebSocket-Version must be 13, got "${version ?? ''}"`)
  const key = req.headers['sec-websocket-key']
  if (key === undefined || !/^[+/0-9A-Za-z]{22}==$/.test(key)) return reject(state, socket, 400, 'upgrade', 'missing or malformed Sec-WebSocket-Key')
  if (!socket.writable) {
    socket.destroy()
    return
  }
  clearHandshakeDeadline(socket)
  socket.write(upgradeResponse(key, protocol))
  const stream = new WsServerStream(socket, {piggyback: state.ws.piggyback, maxPayload: state.hooks.maxPacketSize, stats: state.stats})
  state.hooks.onConnection(wsConnection(state, stream, socket, req, 'batch'))
  stream.start(head)
}

function onPlainRequest(state: WsListenerState, req: IncomingMessage, res: ServerResponse): void {
  const path = pathOf(req)
  const right = path === state.ws.path
  const status = right ? 426 : 404
  countRejected(state.stats, right ? 'upgrade' : 'path')
  const body = right
    ? `this is an MQTT over WebSocket endpoint: connect with a WebSocket client (subprotocol "mqtt") to ${state.ws.path}\n`
    : `this broker serves MQTT over WebSocket on ${state.ws.path}, not on ${path}\n`
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
    ...(right ? {Upgrade: 'websocket'} : {}),
  })
  res.end(body)
}

/**
 * A new TCP socket: the per-address cap of sockets not serving MQTT yet, and a deadline for
 * its handshake (TLS, then the HTTP upgrade): the connect timeout, as for CONNECT after it.
 */
function onWsSocket(state: WsListenerState, socket: Socket): void {
  const {config, stats, hooks} = state
  if (!admitConnectionRate(state, socket)) return
  if (!admitPending(stats, socket, pendingLimit(hooks, socket))) return refusePending(config.id, hooks, socket)
  if (hooks.connectTimeoutMs !== undefined) armHandshakeDeadline(socket, hooks.connectTimeoutMs, stats, state.onHandshakeTimeout)
  // Read while the client is here: a failed TLS handshake is reported with it (tls-failure.ts).
  if (config.scheme === 'wss') void socket.remoteAddress
}

const kSecured = Symbol('TLS handshake done')
type SecuredSocket = Socket & {[kSecured]?: boolean}

function markSecured(socket: SecuredSocket): void {
  socket[kSecured] = true
}

/** MQTT over WebSocket (ws://) or secure WebSocket (wss://). */
export async function listenWs(config: ListenerConfig, hooks: ListenHooks, stats: ListenerStats = newListenerStats()): Promise<Listener> {
  const opts = config.ws
  if (!opts) throw new Error(`listener ${config.id} has no WebSocket options`)
  const server =
    config.scheme === 'wss' && config.tls ? https.createServer({...secureContextOptions(config.tls, config.id), ...handshakeTimeout(hooks)}) : http.createServer()
  if (hooks.connectTimeoutMs !== undefined) {
    // Node's own limits for slow request headers (checked every 30 s); the handshake deadline below is the exact one.
    server.headersTimeout = hooks.connectTimeoutMs
    server.requestTimeout = hooks.connectTimeoutMs
  }
  const wss = opts.deflate ? new WebSocketServer({
    noServer: true,
    // Compression costs CPU per message; threshold 0 so small MQTT packets count too.
    perMessageDeflate: {threshold: 0},
    maxPayload: hooks.maxPacketSize,
    clientTracking: false,
    // The subprotocol was checked in onUpgrade; echo the client's first supported offer.
    handleProtocols: (protocols) => {
      const chosen = chooseSubprotocol([...protocols], opts.subprotocols)
      return typeof chosen === 'string' ? chosen : false
    },
  }) : undefined
  const onHandshakeTimeout = (socket: Socket): void => {
    hooks.onRejected(config.id, 'handshake-timeout', `${remoteOf(socket)}: the WebSocket handshake did not complete within ${hooks.connectTimeoutMs} ms (limits.connectTimeoutMs)`)
  }
  const state: WsListenerState = {config, ws: opts, stats, hooks, wss, onHandshakeTimeout}
  server.on('connection', (socket: Socket) => onWsSocket(state, socket))
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.setNoDelay(true)
    onUpgrade(state, req, socket, head)
  })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => onPlainRequest(state, req, res))
  server.on('clientError', (error: Error, socket: Socket) => {
    // https re-emits each failed TLS handshake as a clientError: tlsClientError below counts and reports it.
    if (config.scheme === 'wss' && (socket as SecuredSocket)[kSecured] !== true) return
    countRejected(stats, 'http')
    hooks.onRejected(config.id, 'http', `bad HTTP from ${remoteOf(socket)}: ${error.message}`)
    // Closed once the answer is out: a client that never closes its side would otherwise hold the socket until the handshake deadline.
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n', () => socket.destroy())
    else socket.destroy()
  })
  if (config.scheme === 'wss') {
    server.on('secureConnection', markSecured)
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: Socket) => rejectTlsHandshake(config.id, stats, hooks, socket, error))
  }
  const port = await bind(server, config)
  const info = {id: config.id, scheme: config.scheme, host: config.host, port, url: listenerUrl({...config, port}), path: opts.path}
  return {
    config,
    info,
    stats,
    close: async () => {
      const closing = closeServer(server)
      server.closeIdleConnections()
      await closing
    },
  }
}

export const wsTransport: Transport = Object.freeze({
  scheme: 'ws',
  defaultPort: DEFAULT_PORTS.ws,
  secure: false,
  websocket: true,
  listen: listenWs,
  dial: (url: URL, options: DialOptions) => dialWs(url, 'ws', options),
})

export const wssTransport: Transport = Object.freeze({
  scheme: 'wss',
  defaultPort: DEFAULT_PORTS.wss,
  secure: true,
  websocket: true,
  listen: listenWs,
  dial: (url: URL, options: DialOptions) => dialWs(url, 'wss', options),
})
