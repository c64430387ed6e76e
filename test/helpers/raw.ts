/** Raw sockets for byte-level tests: send exact bytes, read exact bytes, see the close. */
import net from 'node:net'
import tls from 'node:tls'
import WebSocket from 'ws'
import {testCertificate} from './certs.js'

export interface RawPeer {
  /** Every byte (TCP) or every message payload concatenated (WS) received so far. */
  received(): Buffer
  /** WebSocket only: each binary message received, in order. */
  frames: Buffer[]
  send(bytes: Buffer | string): void
  /** Resolves when at least n bytes have arrived. */
  waitBytes(n: number, timeoutMs?: number): Promise<Buffer>
  /** Resolves when the peer closes; with the WS close code when it is a WebSocket. */
  closed: Promise<{code?: number; reason?: string}>
  close(): void
}

/** Received data kept as a list of chunks and joined only when read, so 100,000 small chunks cost no more than one big one. */
function chunkLog(): {push(d: Buffer): void; received(): Buffer; waitBytes(n: number, timeoutMs?: number): Promise<Buffer>; chunks: Buffer[]} {
  const chunks: Buffer[] = []
  let joined = Buffer.alloc(0)
  let joinedChunks = 0
  let total = 0
  const received = (): Buffer => {
    if (joinedChunks < chunks.length) {
      joined = Buffer.concat([joined, ...chunks.slice(joinedChunks)])
      joinedChunks = chunks.length
    }
    return joined
  }
  const waiters = new Set<() => void>()
  return {
    chunks,
    received,
    push(d: Buffer): void {
      chunks.push(d)
      total += d.length
      for (const w of [...waiters]) w()
    },
    waitBytes: (n: number, timeoutMs = 3000): Promise<Buffer> =>
      new Promise((resolve, reject) => {
        if (total >= n) return resolve(received())
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`waited for ${n} bytes, got ${total}: ${received().subarray(0, 64).toString('hex')}`))
        }, timeoutMs)
        const check = (): void => {
          if (total < n) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(received())
        }
        waiters.add(check)
      }),
  }
}

/** A raw TCP (or TLS) connection, with its socket exposed; `noDelay` turns Nagle off. */
export async function rawTcp(port: number, useTls = false, options: {noDelay?: boolean} = {}): Promise<RawPeer & {socket: net.Socket}> {
  const cert = await testCertificate()
  const socket = useTls ? tls.connect({port, host: '127.0.0.1', ca: cert.cert, servername: 'localhost'}) : net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once(useTls ? 'secureConnect' : 'connect', () => resolve())
    socket.once('error', reject)
  })
  if (options.noDelay) socket.setNoDelay(true)
  const log = chunkLog()
  socket.on('data', (d: Buffer) => log.push(d))
  socket.on('error', () => {})
  const closed = new Promise<{code?: number}>((resolve) => socket.once('close', () => resolve({})))
  return {
    socket,
    received: log.received,
    frames: [],
    send: (b) => socket.write(b),
    waitBytes: log.waitBytes,
    closed,
    close: () => socket.destroy(),
  }
}

/** A raw WebSocket client; the caller chooses the subprotocols and sends frames itself. */
export async function rawWs(url: string, protocols: string | string[] = 'mqtt'): Promise<RawPeer & {ws: WebSocket}> {
  const cert = await testCertificate()
  const ws = new WebSocket(url, protocols, {ca: cert.cert, perMessageDeflate: false})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const log = chunkLog()
  ws.on('message', (d: Buffer) => log.push(d))
  ws.on('error', () => {})
  const closed = new Promise<{code?: number; reason?: string}>((resolve) => ws.once('close', (code, reason) => resolve({code, reason: reason.toString()})))
  return {
    ws,
    received: log.received,
    frames: log.chunks,
    send: (b) => ws.send(typeof b === 'string' ? Buffer.from(b) : b, {binary: true}),
    waitBytes: log.waitBytes,
    closed,
    close: () => ws.terminate(),
  }
}

/** Hex fixtures with spaces allowed: hex('10 0c 00 04') */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex')
}

/** An MQTT Variable Byte Integer (Remaining Length, property lengths), written independently of src. */
export function varint(n: number): Buffer {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Buffer.from(out)
}
