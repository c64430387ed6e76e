/** Errors of a failed dial that say what to check: the socket, TLS, or the WebSocket handshake. */
import {DEFAULT_SUBPROTOCOLS} from '../config.js'
import type {Scheme} from '../config.js'
import {ErrorCode, TransportError} from '../errors.js'
import {opensslReason} from './openssl-reason.js'

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
        msg = `${where}: TLS failed: ${opensslReason(error)}${tlsHint(error)}`
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
