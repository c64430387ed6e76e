/**
 * A trivial forwarding peer for `bench --selftest`: it speaks just enough MQTT to be
 * connected to and subscribed to, and copies every QoS 0 PUBLISH, byte for byte, to every
 * subscriber — no topic matching, no sessions. What a peer gets in one event-loop turn
 * leaves in one write (one frame per packet on WebSocket, through the broker's own
 * WsServerStream). Measuring it shows the load generator's own ceiling: a broker measured
 * near it is being measured by a tool at its limit.
 */
import http from 'node:http'
import type {IncomingMessage} from 'node:http'
import net from 'node:net'
import type {Socket} from 'node:net'
import type {Duplex} from 'node:stream'
import {WsServerStream} from '../transport/ws-server-stream.js'
import {upgradeResponse} from '../transport/ws-handshake.js'

const pendingFlush: Peer[] = []

function flushAll(): void {
  for (const p of pendingFlush) p.flush()
  pendingFlush.length = 0
}

class Peer {
  version = 4
  private readonly out: Buffer[] = []

  constructor(
    readonly stream: Duplex,
    /** WebSocket: each packet stays a frame of its own. */
    readonly framed: boolean,
  ) {}

  write(b: Buffer): void {
    if (this.out.push(b) === 1) {
      if (pendingFlush.push(this) === 1) setImmediate(flushAll)
    }
  }

  flush(): void {
    const out = this.out
    if (this.stream.destroyed) {
      out.length = 0
      return
    }
    if (this.framed) {
      this.stream.cork()
      for (const b of out) this.stream.write(b)
      this.stream.uncork()
    } else {
      this.stream.write(out.length === 1 ? out[0] : Buffer.concat(out))
    }
    out.length = 0
  }
}

class Relay {
  readonly subscribers = new Set<Peer>()

  /** Handles one complete packet from a peer. */
  packet(peer: Peer, p: Buffer, bodyOffset: number): void {
    const type = p[0] >> 4
    switch (type) {
      case 1: {
        // CONNECT: protocol name length at body, then name, then level.
        const nameLen = p.readUInt16BE(bodyOffset)
        peer.version = p[bodyOffset + 2 + nameLen]
        peer.write(peer.version === 5 ? Buffer.from([0x20, 3, 0, 0, 0]) : Buffer.from([0x20, 2, 0, 0]))
        return
      }
      case 3:
        for (const s of this.subscribers) s.write(p)
        return
      case 8: {
        const id = p.readUInt16BE(bodyOffset)
        peer.write(peer.version === 5 ? Buffer.from([0x90, 4, id >> 8, id & 0xff, 0, 0]) : Buffer.from([0x90, 3, id >> 8, id & 0xff, 0]))
        this.subscribers.add(peer)
        return
      }
      case 12:
        peer.write(Buffer.from([0xd0, 0]))
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
      this.relay.packet(this.peer, buf.subarray(off, i + len), i)
      off = i + len
    }
    this.pending = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off))
  }
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
    const peer = new Peer(stream, framed)
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
