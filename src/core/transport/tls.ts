import net from 'node:net'
import tls from 'node:tls'
import type {Socket} from 'node:net'
import type {PeerCertificate, TLSSocket} from 'node:tls'
import type {ListenerConfig, TlsMaterial} from '../config.js'
import {listenerUrl} from '../config.js'
import {ErrorCode, TransportError} from '../errors.js'
import {bind, closeServer} from './bind.js'
import {dialUrl} from './dial-socket.js'
import {newListenerStats} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'
import {DEFAULT_PORTS} from './schemes.js'
import {admitPending} from './pending.js'
import {refusePending, remoteOf} from './tcp.js'
import {rejectTlsHandshake} from './tls-failure.js'
import {admitConnectionRate, pendingLimit, proxiedRemote, readProxyHeader} from './guard-accept.js'
import type {Connection, DialOptions, ListenHooks, Listener, Transport} from './types.js'

const kListener = Symbol('listener')

interface TlsServer extends tls.Server {
  [kListener]: {config: ListenerConfig; stats: ListenerStats; hooks: ListenHooks}
}

/** With trusted proxies: the TCP server in front, which reads a PROXY header before handing the socket to TLS. */
interface RawServer extends net.Server {
  [kListener]: {config: ListenerConfig; stats: ListenerStats; hooks: ListenHooks; tls: TlsServer}
}

/** Builds a TLS context, turning OpenSSL's parse errors into one that names the setting. */
export function secureContextOptions(material: TlsMaterial, listenerId: string): tls.TlsOptions {
  const options: tls.TlsOptions = {cert: material.cert, key: material.key}
  if (material.ca) options.ca = material.ca
  if (material.clientCa) {
    // mTLS: ask for a client certificate, verified against clientCa (and the server's own chain).
    options.ca = material.ca ? [material.ca, material.clientCa] : material.clientCa
    options.requestCert = true
    options.rejectUnauthorized = material.clientCert === 'require'
  }
  try {
    tls.createSecureContext(options)
  } catch (error) {
    throw new TransportError(
      `listener ${listenerId}: the TLS certificate or key is not usable (${(error as Error).message}); check that the key belongs to the certificate and both are PEM`,
      {code: ErrorCode.TLS_FILES, cause: error},
    )
  }
  return options
}

/**
 * Connection.peerCertificate on TLS (mqtts, wss): the client's verified certificate, read
 * when asked, or undefined when it presented none (or one that did not verify). A module-level function: no closure per connection.
 */
export function tlsPeerCertificate(this: Connection): PeerCertificate | undefined {
  const socket = this.socket as TLSSocket | undefined
  // Only a certificate that verified against the listener's client CA: one that did not
  // (clientCert 'request') is as good as none, so nothing downstream can trust its CN.
  if (socket === undefined || !socket.authorized) return undefined
  const cert = socket.getPeerCertificate()
  // Node gives {} when the client sent no certificate (and null once the socket is gone).
  return cert?.raw !== undefined ? cert : undefined
}

function onSecureConnection(this: TlsServer, socket: TLSSocket): void {
  const {config, stats, hooks} = this[kListener]
  socket.setNoDelay(true)
  hooks.onConnection({
    stream: socket,
    scheme: 'mqtts',
    remote: proxiedRemote(socket) ?? remoteOf(socket),
    listenerId: config.id,
    stats,
    socket,
    writeMode: 'concat',
    peerCertificate: tlsPeerCertificate,
  })
}

/** With trusted proxies: a TCP socket first shows its PROXY header (if any), then starts TLS. */
function onRawAccept(this: RawServer, socket: Socket): void {
  const ctx = this[kListener]
  if (!admitConnectionRate(ctx, socket)) return
  if (!admitPending(ctx.stats, socket, pendingLimit(ctx.hooks, socket))) return refusePending(ctx.config.id, ctx.hooks, socket)
  readProxyHeader(ctx, socket, startTls)
}

function startTls(ctx: RawServer[typeof kListener], socket: Socket): void {
  // The TLS socket takes what followed the header from the socket's buffer (Node's initRead)
  // and reads the socket's handle itself: resuming the socket here would lose those bytes.
  ctx.tls.emit('connection', socket)
}

/** Before the TLS handshake: the per-address cap of sockets not serving MQTT yet (pending.ts). */
function onTcpAccept(this: TlsServer, socket: Socket): void {
  const {config, stats, hooks} = this[kListener]
  // Read while the client is here: a failed handshake is reported with it (tls-failure.ts).
  void socket.remoteAddress
  if (!admitConnectionRate(this[kListener], socket)) return
  if (!admitPending(stats, socket, hooks.maxPendingPerAddress ?? 0)) refusePending(config.id, hooks, socket)
}

function onTlsClientError(this: TlsServer, error: NodeJS.ErrnoException, socket: TLSSocket): void {
  const {config, stats, hooks} = this[kListener]
  rejectTlsHandshake(config.id, stats, hooks, socket, error)
}

/**
 * The TLS handshake deadline (the connect timeout, when the broker gives one; Node's own is
 * 120 s) and the lowest TLS version (guard.tlsMinVersion, never below TLS 1.2).
 */
export function handshakeTimeout(hooks: ListenHooks): {handshakeTimeout?: number; minVersion: tls.SecureVersion} {
  const minVersion = hooks.tlsMinVersion ?? 'TLSv1.2'
  return hooks.connectTimeoutMs === undefined ? {minVersion} : {handshakeTimeout: hooks.connectTimeoutMs, minVersion}
}


/** MQTT over TLS. */
export async function listenTls(config: ListenerConfig, hooks: ListenHooks, stats: ListenerStats = newListenerStats()): Promise<Listener> {
  if (!config.tls) throw new TransportError(`listener ${config.id} needs a TLS certificate and key`, {code: ErrorCode.TLS_FILES})
  // A stalled TLS handshake is cut at the connect timeout (Node's default is 120 s).
  const server = tls.createServer({...secureContextOptions(config.tls, config.id), ...handshakeTimeout(hooks)}) as TlsServer
  server[kListener] = {config, stats, hooks}
  server.on('secureConnection', onSecureConnection)
  server.on('tlsClientError', onTlsClientError)
  let front: net.Server = server
  if (hooks.trustedProxies !== undefined) {
    const raw = net.createServer({noDelay: true}) as RawServer
    raw[kListener] = {config, stats, hooks, tls: server}
    raw.on('connection', onRawAccept)
    front = raw
  } else {
    server.prependListener('connection', onTcpAccept)
  }
  const port = await bind(front, config)
  const info = {id: config.id, scheme: config.scheme, host: config.host, port, url: listenerUrl({...config, port})}
  return {config, info, stats, close: () => closeServer(front)}
}

export const mqttsTransport: Transport = Object.freeze({
  scheme: 'mqtts',
  defaultPort: DEFAULT_PORTS.mqtts,
  secure: true,
  websocket: false,
  listen: listenTls,
  dial: (url: URL, options: DialOptions) => dialUrl(url, 'mqtts', options),
})
