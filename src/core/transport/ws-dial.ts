/**
 * The client side of ws:// and wss:// on the `ws` library: the handshake, then a WsStream
 * that frames one packet per message. Errors say what to check (path, subprotocol, TLS,
 * or a plain MQTT port).
 */
import net from 'node:net'
import type {Socket} from 'node:net'
import tls from 'node:tls'
import type {IncomingMessage} from 'node:http'
import WebSocket from 'ws'
import type {Scheme} from '../config.js'
import {ErrorCode, TransportError} from '../errors.js'
import {handshakeError, socketError} from './dial-errors.js'
import {tlsOptions} from './dial-socket.js'
import {DEFAULT_PORTS} from './schemes.js'
import type {DialOptions, Dialed} from './types.js'
import {CountingStream} from './wire-counter.js'
import {WsStream} from './ws-stream.js'

export function dialWs(url: URL, scheme: Scheme, options: DialOptions, timeoutMs = options.timeoutMs ?? 10_000): Promise<Dialed> {
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
      // The socket comes from the 'upgrade' response (ws's own _socket is private).
      const socket = rawSocket
      if (socket === undefined) {
        ws.terminate()
        reject(new TransportError(`${where}: the WebSocket opened without an 'upgrade' event carrying its socket: is the ws package a supported version (^8)?`))
        return
      }
      socket.setNoDelay(true)
      const stream = new WsStream(ws, {framing: options.framing, rawSocket: socket})
      resolve({stream, scheme, socket: wire ?? socket, subprotocol: ws.protocol || undefined, extensions: ws.extensions || undefined})
    })
  })
}

