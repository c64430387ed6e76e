/**
 * A trivial forwarding peer for `bench --selftest`: it speaks just enough MQTT to be
 * connected to and subscribed to, and copies every QoS 0 PUBLISH, byte for byte, to every
 * subscriber — no topic matching, no sessions. What a peer gets in one event-loop turn
 * leaves in one write, copied into one buffer (one frame per packet on WebSocket; the
 * broker's own WsServerStream unmasks what comes in), so the relay costs far less per
 * message than a broker. Measuring it shows the load generator's own ceiling: a broker
 * measured near it is being measured by a tool at its limit.
 */
import http from 'node:http'
import type {IncomingMessage} from 'node:http'
import net from 'node:net'
import type {Socket} from 'node:net'
import type {Duplex} from 'node:stream'
import {WsServerStream} from '../transport/ws-server-stream.js'
import {upgradeResponse} from '../transport/ws-handshake.js'
import {Opcode, headerSize, writeHeader} from '../transport/ws-frame.js'
import {skipVarSized} from './wire/packet-scanner.js'

const pendingFlush: Peer[] = []

function flushAll(): void {
  for (const p of pendingFlush) {
    p.queued = false
    p.flush()
  }
  pendingFlush.length = 0
}

/** Output is gathered in slabs of this size (or one packet's, if larger). */
const SLAB_BYTES = 256 * 1024
/** Packets up to this size are copied byte by byte. */
const SMALL_COPY = 64

class Peer {
  version = 4
  /** What this turn wrote, framed, in one slab: out[start, end) leaves in one socket write. */
  private out: Buffer = Buffer.allocUnsafe(0)
  private start = 0
  private end = 0
  /** In pendingFlush: this turn's output leaves at its end. */
  queued = false

  constructor(
    /** Where the bytes go: the socket itself, also for WebSocket (the relay writes the frames). */
    readonly socket: Socket,
    /** WebSocket: each packet stays a frame of its own. */
    readonly framed: boolean,
  ) {}

  /** Appends the packet src[from, to) (a frame of its own on WebSocket): a copy, no object per packet. */
  write(src: Buffer, from: number, to: number): void {
    const length = to - from
    if (this.framed) {
      this.reserve(headerSize(length) + length)
      this.end = putFrame(this.out, this.end, src, from, to)
    } else {
      this.reserve(length)
      this.end = copyBytes(this.out, this.end, src, from, to)
    }
  }

  /**
   * Appends src[from, to), whole PUBLISH packets back to back: on TCP in one copy, on
   * WebSocket a frame each.
   */
  writeRun(src: Buffer, from: number, to: number): void {
    if (!this.framed) {
      this.write(src, from, to)
      return
    }
    // Room for the run and a header per packet (never more than the packet itself): one check for the run.
    this.reserve(2 * (to - from))
    const out = this.out
    let off = this.end
    for (let at = from; at < to; ) {
      const end = skipVarSized(src, at + 1)
      off = putFrame(out, off, src, at, end)
      at = end
    }
    this.end = off
  }

  /** Room for `need` more bytes in the slab, and this peer's output queued to leave at the end of the turn. */
  private reserve(need: number): void {
    if (this.out.length - this.end < need) this.grow(need)
    if (!this.queued) {
      this.queued = true
      if (pendingFlush.push(this) === 1) setImmediate(flushAll)
    }
  }

  /** A full slab: what it holds leaves now (the socket keeps those bytes), and a new one starts. */
  private grow(need: number): void {
    this.flush()
    this.out = Buffer.allocUnsafe(Math.max(SLAB_BYTES, need))
    this.start = 0
    this.end = 0
  }

  flush(): void {
    if (this.start === this.end) return
    const bytes = this.out.subarray(this.start, this.end)
    this.start = this.end
    if (!this.socket.destroyed) this.socket.write(bytes)
  }
}

class Relay {
  readonly subscribers = new Set<Peer>()

  private reply(peer: Peer, bytes: number[]): void {
    const b = Buffer.from(bytes)
    peer.write(b, 0, b.length)
  }

  /** Forwards PUBLISH packets buf[from, to) to every subscriber. */
  forward(buf: Buffer, from: number, to: number): void {
    for (const s of this.subscribers) s.writeRun(buf, from, to)
  }

  /** Handles one complete packet buf[start, end) from a peer; its variable header starts at bodyOffset. */
  packet(peer: Peer, buf: Buffer, start: number, bodyOffset: number, end: number): void {
    const type = buf[start] >> 4
    switch (type) {
      case 1: {
        // CONNECT: protocol name length at body, then name, then level.
        const nameLen = buf.readUInt16BE(bodyOffset)
        peer.version = buf[bodyOffset + 2 + nameLen]
        this.reply(peer, peer.version === 5 ? [0x20, 3, 0, 0, 0] : [0x20, 2, 0, 0])
        return
      }
      case 3:
        this.forward(buf, start, end)
        return
      case 8: {
        const id = buf.readUInt16BE(bodyOffset)
        this.reply(peer, peer.version === 5 ? [0x90, 4, id >> 8, id & 0xff, 0, 0] : [0x90, 3, id >> 8, id & 0xff, 0])
        this.subscribers.add(peer)
        return
      }
      case 12:
        this.reply(peer, [0xd0, 0])
        return
      default:
    }
  }
}

/** Splits a byte stream into MQTT packets by their fixed header. */
class Framer {
  private pending: Buffer = Buffer.alloc(0)

  constructor(
    private readonly relay: Relay,
    private readonly peer: Peer,
  ) {}

  push(chunk: Buffer): void {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    let off = 0
    // Consecutive PUBLISH packets are forwarded together: one copy on TCP, not one per packet.
    let run = -1
    for (;;) {
      if (buf.length - off < 2) break
      let len = 0
      let mul = 1
      let i = off + 1
      let complete = false
      for (; i < buf.length && i < off + 5; i++) {
        len += (buf[i] & 0x7f) * mul
        mul *= 128
        if ((buf[i] & 0x80) === 0) {
          complete = true
          i++
          break
        }
      }
      if (!complete || buf.length - i < len) break
      if (buf[off] >> 4 === 3) {
        if (run < 0) run = off
      } else {
        if (run >= 0) this.relay.forward(buf, run, off)
        run = -1
        this.relay.packet(this.peer, buf, off, i, i + len)
      }
      off = i + len
    }
    if (run >= 0) this.relay.forward(buf, run, off)
    this.pending = off === buf.length ? EMPTY : Buffer.from(buf.subarray(off))
  }
}

const EMPTY = Buffer.alloc(0)

/**
 * Copies src[from, to) to out at `off`; returns where it ends. A bench message is a few
 * dozen bytes: for those a loop beats Buffer.copy's call overhead.
 */
function copyBytes(out: Buffer, off: number, src: Buffer, from: number, to: number): number {
  if (to - from > SMALL_COPY) return off + src.copy(out, off, from, to)
  for (let i = from; i < to; i++) out[off++] = src[i]
  return off
}

/**
 * Writes the packet src[from, to) to out at `off` as a WebSocket binary frame of its own;
 * returns where it ends. (TCP writes call copyBytes directly: one put() with a `framed` flag
 * for both measured about 10% slower on ws in the forwarding loop.)
 */
function putFrame(out: Buffer, off: number, src: Buffer, from: number, to: number): number {
  const length = to - from
  if (length < 126) {
    out[off++] = 0x80 | Opcode.Binary
    out[off++] = length
  } else off = writeHeader(out, off, Opcode.Binary, length)
  return copyBytes(out, off, src, from, to)
}

export interface RunningRelay {
  urls: {tcp: string; ws: string}
  close(): Promise<void>
}

export async function startRelay(): Promise<RunningRelay> {
  const relay = new Relay()
  const sockets = new Set<Socket>()
  const attach = (socket: Socket, stream: Duplex, framed: boolean): void => {
    sockets.add(socket)
    const peer = new Peer(socket, framed)
    const framer = new Framer(relay, peer)
    stream.on('data', (d: Buffer) => framer.push(d))
    stream.on('error', () => {})
    socket.on('error', () => {})
    socket.on('close', () => {
      relay.subscribers.delete(peer)
      sockets.delete(socket)
    })
  }
  const tcp = net.createServer((socket) => {
    socket.setNoDelay(true)
    attach(socket, socket, false)
  })
  const httpServer = http.createServer((_req, res) => res.writeHead(426).end())
  httpServer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const key = req.headers['sec-websocket-key']
    if (req.url?.split('?')[0] !== '/mqtt' || key === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
      return
    }
    socket.setNoDelay(true)
    const offered = req.headers['sec-websocket-protocol']?.split(',')[0]?.trim()
    socket.write(upgradeResponse(key, offered ?? null))
    const stream = new WsServerStream(socket, {maxPayload: 268_435_455})
    attach(socket, stream, true)
    stream.start(head)
  })
  const listen = (server: net.Server): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port))
    })
  const [tcpPort, wsPort] = await Promise.all([listen(tcp), listen(httpServer)])
  return {
    urls: {tcp: `mqtt://127.0.0.1:${tcpPort}`, ws: `ws://127.0.0.1:${wsPort}/mqtt`},
    close: async () => {
      for (const s of sockets) s.destroy()
      await Promise.all([new Promise((r) => tcp.close(r)), new Promise((r) => httpServer.close(r))])
    },
  }
}
