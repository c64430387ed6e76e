/**
 * A scripted stand-in for a broker, on 127.0.0.1: it records every packet a client sends
 * (decoded with mqtt-packet, independent of src/core/protocol) and answers only what the
 * test tells it to, byte for byte. Over TCP, or over a WebSocket whose handshake and frames
 * are done by hand, so each frame the client sends is seen as it was on the wire.
 */
import {createHash} from 'node:crypto'
import http from 'node:http'
import type {IncomingMessage} from 'node:http'
import net from 'node:net'
import type {AddressInfo, Socket} from 'node:net'
import mqttPacket from 'mqtt-packet'
import type {Packet} from 'mqtt-packet'
import type {MqttClient} from '../../../src/core/client/client.js'
import type {IPublishPacket} from '../../../src/core/protocol/codec.js'
import {within} from '../../helpers/contract.js'
import {FrameParser, Opcode, encodeFrame} from '../../helpers/ws-wire.js'
import type {WireFrame} from '../../helpers/ws-wire.js'

const WAIT_MS = 5000

export interface FakeConnection {
  socket: Socket
  /** Every packet received, in order. */
  packets: Packet[]
  /** WebSocket only: every frame received from the client, in order. */
  frames: WireFrame[]
  /** Sends bytes as they are (TCP) or in one binary frame (WS). */
  send(bytes: Buffer): void
  /** Resolves with the first packet (from `from` on) that passes the test; rejects after a deadline. */
  waitFor(label: string, test: (p: Packet) => boolean, from?: number, timeoutMs?: number): Promise<Packet>
  /** Resolves once the client's socket closed. */
  closed: Promise<void>
  end(): void
}

export interface FakeBroker {
  port: number
  url: string
  connections: FakeConnection[]
  /** WebSocket only: the headers of each upgrade request, in order. */
  handshakes: IncomingMessage['headers'][]
  nextConnection(timeoutMs?: number): Promise<FakeConnection>
  close(): Promise<void>
}

export interface FakeBrokerOptions {
  /** Serve a hand-made WebSocket at any path instead of raw TCP. */
  ws?: boolean
  /** Called with each connection once its CONNECT arrived (answer it here, or not at all). */
  onConnect?: (conn: FakeConnection, connect: Packet) => void
}

/** A CONNACK as bytes: v3/v3.1.1 return code, or v5 reason code with optional raw property bytes. */
export function connackBytes(version: 3 | 4 | 5, code = 0, v5props: Buffer = Buffer.alloc(0)): Buffer {
  if (version !== 5) return Buffer.from([0x20, 0x02, 0x00, code])
  const body = Buffer.concat([Buffer.from([0x00, code, v5props.length]), v5props])
  return Buffer.concat([Buffer.from([0x20, body.length]), body])
}

export async function startFakeBroker(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
  const connections: FakeConnection[] = []
  const waiting: Array<(c: FakeConnection) => void> = []
  const sockets = new Set<Socket>()
  const handshakes: IncomingMessage['headers'][] = []

  const adopt = (socket: Socket, ws: boolean, head: Buffer): void => {
    sockets.add(socket)
    socket.on('error', () => {})
    const packets: Packet[] = []
    const frames: WireFrame[] = []
    const listeners = new Set<() => void>()
    const parser = mqttPacket.parser()
    const frameParser = new FrameParser()
    let connected = false
    const conn: FakeConnection = {
      socket,
      packets,
      frames,
      send: (bytes) => {
        if (!socket.destroyed) socket.write(ws ? encodeFrame(Opcode.Binary, bytes, {mask: false}) : bytes)
      },
      waitFor: (label, test, from = 0, timeoutMs = WAIT_MS) =>
        new Promise((resolve, reject) => {
          const check = (): boolean => {
            for (let i = from; i < packets.length; i++) {
              if (test(packets[i])) {
                listeners.delete(check as () => void)
                clearTimeout(timer)
                resolve(packets[i])
                return true
              }
            }
            return false
          }
          const timer = setTimeout(() => {
            listeners.delete(check as () => void)
            reject(new Error(`fake broker: no ${label} within ${timeoutMs} ms; got ${packets.map((p) => p.cmd).join(', ') || 'nothing'}`))
          }, timeoutMs)
          if (!check()) listeners.add(check as () => void)
        }),
      closed: new Promise((resolve) => socket.once('close', () => resolve())),
      end: () => socket.destroy(),
    }
    parser.on('packet', (p: Packet) => {
      packets.push(p)
      if (p.cmd === 'connect' && !connected) {
        connected = true
        options.onConnect?.(conn, p)
      }
      for (const l of [...listeners]) l()
    })
    parser.on('error', () => socket.destroy())
    const onBytes = (d: Buffer): void => {
      if (!ws) {
        parser.parse(d)
        return
      }
      for (const f of frameParser.push(d)) {
        frames.push(f)
        if (f.opcode === Opcode.Close) {
          socket.end(encodeFrame(Opcode.Close, f.payload.subarray(0, 2), {mask: false}))
          continue
        }
        if (f.opcode === Opcode.Binary || f.opcode === Opcode.Continuation) parser.parse(f.payload)
      }
    }
    socket.on('data', onBytes)
    if (head.length > 0) onBytes(head)
    connections.push(conn)
    const w = waiting.shift()
    if (w) w(conn)
  }

  let server: net.Server | http.Server
  if (options.ws) {
    const httpServer = http.createServer((_req, res) => res.writeHead(404).end())
    httpServer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      handshakes.push(req.headers)
      const key = String(req.headers['sec-websocket-key'])
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
      const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',')[0].trim()
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
          (offered ? `Sec-WebSocket-Protocol: ${offered}\r\n` : '') +
          '\r\n',
      )
      socket.setNoDelay(true)
      adopt(socket, true, head)
    })
    server = httpServer
  } else {
    server = net.createServer((socket) => {
      socket.setNoDelay(true)
      adopt(socket, false, Buffer.alloc(0))
    })
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: options.ws ? `ws://127.0.0.1:${port}/mqtt` : `mqtt://127.0.0.1:${port}`,
    connections,
    handshakes,
    nextConnection: (timeoutMs = WAIT_MS) =>
      new Promise((resolve, reject) => {
        const already = connections.find((c) => !(c as {taken?: boolean}).taken)
        const take = (c: FakeConnection): void => {
          ;(c as {taken?: boolean}).taken = true
          clearTimeout(timer)
          resolve(c)
        }
        const timer = setTimeout(() => reject(new Error(`fake broker: no connection within ${timeoutMs} ms`)), timeoutMs)
        if (already) take(already)
        else waiting.push(take)
      }),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Resolves with the next `n` messages a client engine hands over; rejects after a deadline. */
export function nextMessages(client: MqttClient, n: number, timeoutMs = 5000): Promise<IPublishPacket[]> {
  const got: IPublishPacket[] = []
  let onMessage!: (p: IPublishPacket) => void
  const done = new Promise<IPublishPacket[]>((resolve) => {
    onMessage = (p) => {
      got.push(p)
      if (got.length === n) resolve(got)
    }
    client.on('message', onMessage)
  })
  return within(done, timeoutMs, `${n} messages`).finally(() => client.off('message', onMessage))
}
