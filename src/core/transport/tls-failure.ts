/**
 * What a failed TLS handshake tells the broker's operator: who the client was, and OpenSSL's
 * reason in words with what the client probably did wrong ("wrong version number" is a client
 * speaking plain MQTT to a TLS port). The client's side of the same failures: dial-errors.ts.
 */
import type {Socket} from 'node:net'
import {countRejected} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'
import {opensslReason} from './openssl-reason.js'
import {remoteOf} from './tcp.js'
import type {ListenHooks} from './types.js'

/**
 * A failed handshake on an mqtts:// or wss:// listener: counted (a stalled one as
 * `handshake-timeout`, any other as `tls`), reported with its reason, and the socket closed:
 * Node leaves it open when someone listens for the failure.
 */
export function rejectTlsHandshake(listenerId: string, stats: ListenerStats, hooks: ListenHooks, socket: Socket, error: NodeJS.ErrnoException): void {
  const reason = error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake-timeout' : 'tls'
  countRejected(stats, reason)
  hooks.onRejected(listenerId, reason, tlsFailureMessage(socket, error))
  socket.destroy()
}

/**
 * The TCP socket under a TLS socket (Node's `_parent`). Once the client has gone, only it
 * still knows the peer's address, if that was read while the client was there (Node caches it
 * on the first read).
 */
function tcpOf(socket: Socket): Socket | undefined {
  return (socket as {_parent?: Socket})._parent
}

/** "TLS handshake with 127.0.0.1:40312 failed: the client did not speak TLS (…)". */
function tlsFailureMessage(socket: Socket, error: NodeJS.ErrnoException): string {
  let remote = remoteOf(socket)
  const tcp = remote.startsWith('?') ? tcpOf(socket) : undefined
  if (tcp !== undefined) remote = remoteOf(tcp)
  return `TLS handshake with ${remote} failed: ${tlsFailureReason(error)}`
}

export function tlsFailureReason(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return 'the client did not speak TLS (plain MQTT to a TLS port? it should connect with mqtts:// or wss://)'
    case 'ERR_SSL_HTTP_REQUEST':
      return 'the client sent plain HTTP (ws:// to a TLS port? it should connect with wss://)'
    case 'ECONNRESET':
      return 'the client closed the connection during the handshake (often because it does not trust this certificate: give it the CA, e.g. mosquitto_sub --cafile)'
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN':
      return `the client does not trust this certificate (${opensslReason(error)}): give it the CA, e.g. mosquitto_sub --cafile`
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
      return `the client offered no TLS version this listener accepts (${opensslReason(error)}; the lowest it accepts is set by --tls-min-version, guard.tlsMinVersion)`
    case 'ERR_SSL_NO_SHARED_CIPHER':
      return 'the client offered no cipher this listener accepts (no shared cipher)'
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return 'the client sent no certificate, and this listener requires one'
    default:
      return opensslReason(error)
  }
}
