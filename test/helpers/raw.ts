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

function waiter(getBuf: () => Buffer, onData: (fn: () => void) => void) {
  return (n: number, timeoutMs = 3000): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      if (getBuf().length >= n) return resolve(getBuf())
      const timer = setTimeout(() => reject(new Error(`waited for ${n} bytes, got ${getBuf().length}: ${getBuf().toString('hex')}`)), timeoutMs)
      onData(() => {
        if (getBuf().length >= n) {
          clearTimeout(timer)
          resolve(getBuf())
        }
      })
    })
}

/** A raw TCP (or TLS) connection. */
export async function rawTcp(port: number, useTls = false): Promise<RawPeer> {
  const cert = await testCertificate()
  const socket = useTls ? tls.connect({port, host: '127.0.0.1', ca: cert.cert, servername: 'localhost'}) : net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once(useTls ? 'secureConnect' : 'connect', () => resolve())
    socket.once('error', reject)
  })
  let buf = Buffer.alloc(0)
  const listeners: Array<() => void> = []
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d])
    for (const l of listeners) l()
  })
  socket.on('error', () => {})
  const closed = new Promise<{code?: number}>((resolve) => socket.once('close', () => resolve({})))
  return {
    received: () => buf,
    frames: [],
    send: (b) => socket.write(b),
    waitBytes: waiter(() => buf, (fn) => listeners.push(fn)),
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
  let buf = Buffer.alloc(0)
  const frames: Buffer[] = []
  const listeners: Array<() => void> = []
  ws.on('message', (d: Buffer) => {
    frames.push(d)
    buf = Buffer.concat([buf, d])
    for (const l of listeners) l()
  })
  ws.on('error', () => {})
  const closed = new Promise<{code?: number; reason?: string}>((resolve) =>
    ws.once('close', (code, reason) => resolve({code, reason: reason.toString()})),
  )
  return {
    ws,
    received: () => buf,
    frames,
    send: (b) => ws.send(typeof b === 'string' ? Buffer.from(b) : b, {binary: true}),
    waitBytes: waiter(() => buf, (fn) => listeners.push(fn)),
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
