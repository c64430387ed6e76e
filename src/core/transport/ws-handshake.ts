/**
 * The HTTP side of the WebSocket opening handshake (RFC 6455 §4) as pure functions: the
 * accept key, the server's 101 response, the client's request, and reading the response
 * head. Used by the broker's own upgrade (ws.ts), the bench relay and the bench's client.
 */
import {createHash} from 'node:crypto'

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64')
}

/** The 101 response that completes the handshake. */
export function upgradeResponse(key: string, protocol: string | null): string {
  return (
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n${protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ''}\r\n`
  )
}

/** A client's upgrade request; `key` is 16 random bytes in base64. */
export function upgradeRequest(path: string, host: string, key: string, protocols: readonly string[]): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
    (protocols.length > 0 ? `Sec-WebSocket-Protocol: ${protocols.join(', ')}\r\n` : '') +
    '\r\n'
  )
}

export interface ResponseHead {
  status: number
  /** Header names in lower case. */
  headers: Map<string, string>
  /** Where the bytes after the head start (the body, or the first frames after a 101). */
  end: number
}

/**
 * Reads an HTTP response head from `buf`: undefined while the blank line has not arrived,
 * null when the bytes are not HTTP.
 */
export function readResponseHead(buf: Buffer): ResponseHead | undefined | null {
  const end = buf.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0])
  if (!status) return null
  const headers = new Map<string, string>()
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]
    const colon = line.indexOf(':')
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  return {status: Number(status[1]), headers, end: end + 4}
}
