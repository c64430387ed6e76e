/**
 * Client side of every transport: mqtt://, mqtts://, ws://, wss://. Resolves with a
 * connected Duplex, or rejects with a TransportError that says what went wrong and what
 * to try (refused port, TLS certificate problem, WebSocket handshake answered 404/400/403).
 */
import net from 'node:net'
import type {Socket} from 'node:net'
import tls from 'node:tls'
import type {Duplex} from 'node:stream'
import type {IncomingMessage} from 'node:http'
import WebSocket from 'ws'
import {DEFAULT_SUBPROTOCOLS} from '../config.js'
import type {Scheme} from '../config.js'
import {ErrorCode, TransportError} from '../errors.js'
import {WsStream} from './ws-stream.js'
import {CountingStream} from './wire-counter.js'
import type {WireCounter} from './wire-counter.js'
import type {WsFraming} from './ws-stream.js'

export interface DialTls {
  /** PEM CA certificates to trust instead of the system's. */
  ca?: string | Buffer
  cert?: string | Buffer
  key?: string | Buffer
  /** Skip certificate verification (development only). */
  insecure?: boolean
  servername?: string
}

export interface DialOptions {
  tls?: DialTls
  /** Extra HTTP headers for the WebSocket handshake. */
  headers?: Record<string, string>
  /** Sec-WebSocket-Protocol to offer (default "mqtt"). */
  subprotocols?: string[]
  /** How outgoing packets map to WebSocket frames (default one frame per packet). */
  framing?: WsFraming
  /** Give up connecting after this long (default 10 s). */
  timeoutMs?: number
  /** Count TLS bytes as encrypted on the wire (slightly slower; bench turns it on). */
  countTlsBytes?: boolean
  /** Offer permessage-deflate; used when the server accepts it (see Dialed.extensions). */
  deflate?: boolean
}

export interface Dialed {
  stream: Duplex
  scheme: Scheme
  /**
   * Byte counters at the wire: the TCP socket, or with countTlsBytes the stream TLS
   * writes its records to. WebSocket frames (and TLS records, when counted) included.
   */
  socket: WireCounter
  /** The subprotocol the server chose (WebSocket only). */
  subprotocol?: string
  /** WebSocket extensions the server accepted, e.g. "permessage-deflate". */
  extensions?: string
}

export const DEFAULT_PORTS: Record<Scheme, number> = {mqtt: 1883, mqtts: 8883, ws: 8083, wss: 8084}
const SCHEMES: Record<string, Scheme> = {'mqtt:': 'mqtt', 'tcp:': 'mqtt', 'mqtts:': 'mqtts', 'ssl:': 'mqtts', 'tls:': 'mqtts', 'ws:': 'ws', 'wss:': 'wss'}

export function schemeOf(url: URL): Scheme {
  const scheme = SCHEMES[url.protocol]
  if (!scheme) {
    throw new TransportError(`${url.href}: unknown scheme "${url.protocol}" — use mqtt://, mqtts://, ws:// or wss://`, {code: ErrorCode.CONFIG})
  }
  return scheme
}

export function dial(url: URL, options: DialOptions = {}): Promise<Dialed> {
  const scheme = schemeOf(url)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost'
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port)
  const timeoutMs = options.timeoutMs ?? 10_000
  if (scheme === 'ws' || scheme === 'wss') return dialWs(url, scheme, options, timeoutMs)
  return dialSocket(scheme, host, port, options, timeoutMs)
}

function tlsOptions(o: DialTls | undefined, host: string): tls.ConnectionOptions {
  const out: tls.ConnectionOptions = {}
  if (o?.ca) out.ca = o.ca
  if (o?.cert) out.cert = o.cert
  if (o?.key) out.key = o.key
  if (o?.insecure) out.rejectUnauthorized = false
  const servername = o?.servername ?? host
  if (!net.isIP(servername)) out.servername = servername
  return out
}

/** TCP, or TLS over TCP: the socket under every transport. `where` names it in errors. */
export function dialSocket(
  scheme: Scheme,
  host: string,
  port: number,
  options: DialOptions,
  timeoutMs: number,
  where = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`,
): Promise<Dialed> {
  return new Promise((resolve, reject) => {
    const tcp = net.connect({host, port})
    const counter = scheme === 'mqtts' && options.countTlsBytes ? new CountingStream(tcp) : undefined
    const socket: Socket = scheme === 'mqtts' ? tls.connect({...tlsOptions(options.tls, host), socket: counter ?? tcp}) : tcp
    const timer = setTimeout(() => {
      socket.destroy()
      tcp.destroy()
      reject(new TransportError(`${where}: no connection within ${timeoutMs} ms: is the host reachable and the port open?`, {code: ErrorCode.TIMEOUT}))
    }, timeoutMs)
    const onError = (error: NodeJS.ErrnoException): void => {
      clearTimeout(timer)
      socket.destroy()
      tcp.destroy()
      reject(socketError(where, scheme, error))
    }
    socket.once('error', onError)
    if (socket !== tcp) tcp.once('error', onError)
    socket.once(scheme === 'mqtts' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      tcp.off('error', onError)
      tcp.setNoDelay(true)
      resolve({stream: socket, scheme, socket: counter ?? socket})
    })
  })
}

/** Explains a failed connection in terms of what to check. */
export function socketError(where: string, scheme: Scheme, error: NodeJS.ErrnoException): TransportError {
  const code = error.code ?? ''
  let msg: string
  switch (code) {
    case 'ECONNREFUSED':
      msg = `${where}: connection refused (ECONNREFUSED): no broker is listening there; check the host and port, or start one with \`mqttws serve\``
      break
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      msg = `${where}: host not found (${code}): check the host name`
      break
    case 'ECONNRESET':
      msg = `${where}: the connection was reset (ECONNRESET)${scheme === 'mqtts' || scheme === 'wss' ? ': is this port serving TLS?' : ''}`
      break
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      msg = `${where}: cannot reach the host (${code})`
      break
    default:
      if (/certificate|self[- ]signed|SSL|TLS|wrong version number|packet length too long/i.test(`${code} ${error.message}`)) {
        // OpenSSL's messages carry its internals ("80EC…:error:0A00010B:SSL routines:…:350:\n"); its reason is the readable part.
        const own = (error as {reason?: unknown}).reason
        const reason = typeof own === 'string' ? own : (/:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+):/.exec(error.message)?.[1] ?? error.message.trim())
        msg = `${where}: TLS failed: ${reason}${tlsHint(error)}`
      } else {
        msg = `${where}: ${error.message}`
      }
  }
  return new TransportError(msg, {code: ErrorCode.TRANSPORT, cause: error})
}

function tlsHint(error: NodeJS.ErrnoException): string {
  const code = error.code ?? ''
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') {
    return ' — the server certificate is not trusted: pass its CA with --cafile, or --insecure for a development broker'
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return ' — the certificate is for another host name: connect by that name, or pass --insecure'
  if (code === 'CERT_HAS_EXPIRED') return ' — the server certificate has expired'
  if (/wrong version number|packet length too long/i.test(error.message)) return ' — the port does not speak TLS: use mqtt:// or ws:// for a plain port'
  return ''
}

function dialWs(url: URL, scheme: Scheme, options: DialOptions, timeoutMs: number): Promise<Dialed> {
  const target = new URL(url.href)
  target.protocol = scheme === 'wss' ? 'wss:' : 'ws:'
  if (target.port === '') target.port = String(DEFAULT_PORTS[scheme])
  // No path means the conventional /mqtt (as mosquitto_pub, MQTTX and EMQX assume).
  if (target.pathname === '/') target.pathname = '/mqtt'
  const where = target.href
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1')
  const subprotocols = options.subprotocols ?? ['mqtt']
  return new Promise((resolve, reject) => {
    let rawSocket: Socket | undefined
    /** wss with countTlsBytes: the counting stream under TLS. */
    let wire: CountingStream | undefined
    const ws = new WebSocket(target.href, subprotocols, {
      perMessageDeflate: options.deflate ? {threshold: 0} : false,
      headers: options.headers,
      handshakeTimeout: timeoutMs,
      maxPayload: 268_435_460,
      ...(scheme === 'wss' ? tlsOptions(options.tls, host) : {}),
      ...(scheme === 'wss' && options.countTlsBytes
        ? {
            createConnection: (o: tls.ConnectionOptions) => {
              wire = new CountingStream(net.connect({host: o.host ?? host, port: Number(o.port)}))
              return tls.connect({...o, socket: wire})
            },
          }
        : {}),
    } as WebSocket.ClientOptions)
    ws.once('upgrade', (res: IncomingMessage) => {
      rawSocket = res.socket as Socket
    })
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        if (body.length < 500) body += d
      })
      res.on('end', () => {
        ws.terminate()
        reject(handshakeError(where, res.statusCode ?? 0, body.trim(), subprotocols))
      })
      res.on('error', () => reject(handshakeError(where, res.statusCode ?? 0, body.trim(), subprotocols)))
    })
    ws.once('error', (error: NodeJS.ErrnoException) => {
      if (/Server sent (no subprotocol|an invalid subprotocol)/.test(error.message)) {
        reject(new TransportError(`${where}: the server did not accept subprotocol ${subprotocols.join(', ')} (${error.message}): try --ws-subprotocol mqttv3.1 or mqtt`, {cause: error}))
      } else if (/timed out/i.test(error.message)) {
        reject(new TransportError(`${where}: WebSocket handshake timed out after ${timeoutMs} ms`, {code: ErrorCode.TIMEOUT, cause: error}))
      } else if (/Unexpected server response|Invalid Sec-WebSocket-Accept/i.test(error.message)) {
        reject(new TransportError(`${where}: not a WebSocket endpoint (${error.message}): check the URL, or use mqtt:// for a plain MQTT port`, {cause: error}))
      } else if (error.code === 'ECONNRESET' || /socket hang up/i.test(error.message)) {
        reject(
          new TransportError(
            `${where}: the server closed the connection during the WebSocket handshake: is this a plain MQTT port (use mqtt://)${scheme === 'ws' ? ' or a TLS port (use wss://)' : ', or does it not serve TLS'}?`,
            {cause: error},
          ),
        )
      } else if (/Parse Error|HPE_/i.test(`${error.code} ${error.message}`)) {
        reject(new TransportError(`${where}: the server did not answer with HTTP (${error.message}): is this an MQTT TCP port? use mqtt:// for it`, {cause: error}))
      } else {
        reject(socketError(where, scheme, error))
      }
    })
    ws.once('open', () => {
      ws.removeAllListeners('error')
      const socket = rawSocket ?? ((ws as unknown as {_socket: Socket})._socket)
      socket.setNoDelay(true)
      const stream = new WsStream(ws, {framing: options.framing, rawSocket: socket})
      resolve({stream, scheme, socket: wire ?? socket, subprotocol: ws.protocol || undefined, extensions: ws.extensions || undefined})
    })
  })
}

/** "ws://localhost:8083/foo answered 404: this broker serves MQTT over WebSocket on /mqtt" */
export function handshakeError(where: string, status: number, body: string, offered: readonly string[]): TransportError {
  let hint = ''
  if (status === 404) hint = ': check the path (most brokers serve MQTT on /mqtt)'
  else if (status === 400) hint = `: check the subprotocol (offered ${offered.join(', ') || 'none'}; brokers accept ${DEFAULT_SUBPROTOCOLS.slice(0, 2).join(' or ')})`
  else if (status === 401 || status === 403) hint = ': the broker refused the handshake (check credentials, headers and Origin)'
  else if (status === 426) hint = ': the server wants a WebSocket upgrade'
  else if (status >= 200 && status < 400) hint = ': a web server, not a WebSocket endpoint: check the port and path'
  const detail = body ? `: ${body.split('\n')[0]}` : ''
  // An mqttws broker's body already says what to change; other brokers' bodies get our hint.
  const says = /mqtt|subprotocol|path/i.test(body)
  return new TransportError(`${where} answered ${status}${detail}${says ? '' : hint}`, {code: ErrorCode.TRANSPORT})
}
