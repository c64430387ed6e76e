/** The socket under every client transport: TCP, or TLS over TCP. */
import net from 'node:net'
import type {Socket} from 'node:net'
import tls from 'node:tls'
import type {Scheme} from '../config.js'
import {ErrorCode, TransportError} from '../errors.js'
import {socketError} from './dial-errors.js'
import {hostOf, portOf} from './schemes.js'
import type {DialOptions, DialTls, Dialed} from './types.js'
import {CountingStream} from './wire-counter.js'

/** Dials mqtt:// or mqtts:// `url`. */
export function dialUrl(url: URL, scheme: Scheme, options: DialOptions): Promise<Dialed> {
  return dialSocket(scheme, hostOf(url), portOf(url, scheme), options, options.timeoutMs ?? 10_000)
}

export function tlsOptions(o: DialTls | undefined, host: string): tls.ConnectionOptions {
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

