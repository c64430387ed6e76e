/**
 * WsStream on a real ws server on 127.0.0.1 (ws:// and wss://). The peer is either the
 * hand-written wire client (to count frames and bytes as they are on the wire) or a ws
 * WebSocket client.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import https from 'node:https'
import type {IncomingMessage} from 'node:http'
import type {AddressInfo, Socket} from 'node:net'
import WebSocket, {WebSocketServer} from 'ws'
import {newListenerStats} from '../../../src/core/transport/listener-stats.js'
import type {ListenerStats} from '../../../src/core/transport/listener-stats.js'
import {WS_CLOSE_UNSUPPORTED_DATA, WsStream} from '../../../src/core/transport/ws-stream.js'
import type {WsStreamOptions} from '../../../src/core/transport/ws-stream.js'
import {testCertificate} from '../../helpers/certs.js'
import {Opcode, encodeFrame, wireConnect} from '../../helpers/ws-wire.js'
import type {WireFrame, WireWs} from '../../helpers/ws-wire.js'

const WAIT_MS = 5000

interface ServerSide {
  stream: WsStream
  ws: WebSocket
  rawSocket: Socket
  stats: ListenerStats
}

interface TestServer {
  port: number
  /** Resolves with the server side of the next connection, wrapped with these options. */
  nextConnection(options?: Omit<WsStreamOptions, 'rawSocket' | 'stats'>): Promise<ServerSide>
  close(): Promise<void>
}

async function startServer(secure: boolean): Promise<TestServer> {
  const cert = await testCertificate()
  const server = secure ? https.createServer({cert: cert.cert, key: cert.key}) : http.createServer()
  const wss = new WebSocketServer({noServer: true, perMessageDeflate: false, clientTracking: false})
  const waiting: Array<{options: Omit<WsStreamOptions, 'rawSocket' | 'stats'>; resolve: (s: ServerSide) => void}> = []
  const sockets = new Set<Socket>()
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    wss.handleUpgrade(req, socket, head, (ws) => {
      const next = waiting.shift()
      if (!next) {
        ws.terminate()
        return
      }
      const stats = newListenerStats()
      const stream = new WsStream(ws, {...next.options, rawSocket: socket, stats})
      next.resolve({stream, ws, rawSocket: socket, stats})
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    nextConnection: (options = {}) => new Promise((resolve) => waiting.push({options, resolve})),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Resolves when `ee` emits `event`; rejects after WAIT_MS, naming it. */
function once<T = unknown>(ee: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ee.off(event, on)
      reject(new Error(`no '${event}' within ${WAIT_MS} ms`))
    }, WAIT_MS)
    const on = (value: T): void => {
      clearTimeout(timer)
      resolve(value)
    }
    ee.once(event, on)
  })
}

function writeAsync(stream: WsStream, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => stream.write(chunk, (error) => (error ? reject(error) : resolve())))
}

function assertBinaryFrame(frame: WireFrame, payload: Buffer, what: string): void {
  assert.equal(frame.opcode, Opcode.Binary, `${what}: opcode`)
  assert.equal(frame.fin, true, `${what}: FIN`)
  assert.equal(frame.masked, false, `${what}: unmasked`)
  assert.equal(frame.payload.toString('hex'), payload.toString('hex'), `${what}: payload`)
}

const A = Buffer.from('30 07 00 01 61 61 61 61 61'.replace(/ /g, ''), 'hex')
const B = Buffer.from('d0 00'.replace(/ /g, ''), 'hex')
const C = Buffer.from('90 03 00 01 00'.replace(/ /g, ''), 'hex')

for (const scheme of ['ws', 'wss'] as const) {
  describe(`transport/ws-stream over ${scheme}://`, () => {
    let server: TestServer
    const cleanup: Array<() => void> = []

    before(async () => {
      server = await startServer(scheme === 'wss')
    })
    afterEach(() => {
      for (const c of cleanup.splice(0)) c()
    })
    after(async () => {
      await server?.close()
    })

    /** A WsStream on the server, with the wire client as its peer. */
    async function wirePair(options: Omit<WsStreamOptions, 'rawSocket' | 'stats'> = {}): Promise<ServerSide & {peer: WireWs}> {
      const side = server.nextConnection(options)
      const peer = await wireConnect({port: server.port, tls: scheme === 'wss', path: '/', protocol: 'mqtt'})
      cleanup.push(() => peer.destroy())
      const s = await side
      cleanup.push(() => s.stream.destroy())
      return {...s, peer}
    }

    /** A WsStream on the server, with a ws WebSocket client as its peer. */
    async function wsPair(options: Omit<WsStreamOptions, 'rawSocket' | 'stats'> = {}): Promise<ServerSide & {peer: WebSocket}> {
      const cert = await testCertificate()
      const side = server.nextConnection(options)
      const peer = new WebSocket(`${scheme}://127.0.0.1:${server.port}/`, 'mqtt', {ca: cert.cert, perMessageDeflate: false})
      peer.on('error', () => {})
      cleanup.push(() => peer.terminate())
      await once(peer, 'open')
      const s = await side
      cleanup.push(() => s.stream.destroy())
      return {...s, peer}
    }

    describe('writing', () => {
      it('sends one binary frame for one write, and calls back', async () => {
        const {stream, peer, stats} = await wirePair()
        await writeAsync(stream, A)
        const frames = await peer.waitDataFrames(1)
        assert.equal(frames.length, 1)
        assertBinaryFrame(frames[0], A, 'frame')
        assert.equal(frames[0].wireLength, 2 + A.length)
        assert.equal(stats.wsFramesOut, 1)
      })

      it('_writev sends one frame per corked chunk, all in one socket write', async () => {
        const {stream, peer, stats, rawSocket} = await wirePair()
        stream.cork()
        const done = [A, B, C].map((c) => writeAsync(stream, c))
        // Spy on the socket under ws while the batch is flushed: uncork() flushes synchronously.
        const sock = rawSocket as Socket & {_writev: (...a: unknown[]) => unknown; _write: (...a: unknown[]) => unknown}
        const calls: string[] = []
        const {_writev, _write} = sock
        sock._writev = function (this: Socket, ...a: unknown[]) {
          calls.push('writev')
          return _writev.apply(this, a)
        }
        sock._write = function (this: Socket, ...a: unknown[]) {
          calls.push('write')
          return _write.apply(this, a)
        }
        try {
          stream.uncork()
        } finally {
          sock._writev = _writev
          sock._write = _write
        }
        assert.deepEqual(calls, ['writev'], 'the 3 frames leave in one write to the socket')
        await Promise.all(done)
        const frames = await peer.waitDataFrames(3)
        assert.equal(frames.length, 3)
        assertBinaryFrame(frames[0], A, 'frame 1')
        assertBinaryFrame(frames[1], B, 'frame 2')
        assertBinaryFrame(frames[2], C, 'frame 3')
        assert.equal(peer.wireBytes, 2 * 3 + A.length + B.length + C.length)
        assert.equal(stats.wsFramesOut, 3)
      })

      it('piggyback: _writev concatenates the corked chunks into one frame, and calls every write back', async () => {
        const {stream, peer, stats} = await wirePair({piggyback: true})
        stream.cork()
        const done = [A, B, C].map((c) => writeAsync(stream, c))
        process.nextTick(() => stream.uncork())
        await Promise.all(done)
        await peer.waitDataBytes(A.length + B.length + C.length)
        assert.equal(peer.dataFrames.length, 1, peer.describe())
        assertBinaryFrame(peer.dataFrames[0], Buffer.concat([A, B, C]), 'the one frame')
        assert.equal(peer.wireBytes, 2 + A.length + B.length + C.length)
        assert.equal(stats.wsFramesOut, 1)
      })

      it('piggyback: uncorked writes still go one frame each', async () => {
        const {stream, peer, stats} = await wirePair({piggyback: true})
        await writeAsync(stream, A)
        await peer.waitDataFrames(1)
        await writeAsync(stream, B)
        const frames = await peer.waitDataFrames(2)
        assertBinaryFrame(frames[0], A, 'frame 1')
        assertBinaryFrame(frames[1], B, 'frame 2')
        assert.equal(stats.wsFramesOut, 2)
      })

      it('sends a large chunk as one frame (64-bit length)', async () => {
        const {stream, peer} = await wirePair()
        const big = Buffer.alloc(100_000, 0x5a)
        await writeAsync(stream, big)
        const frames = await peer.waitDataFrames(1)
        assert.equal(frames[0].headerLength, 10)
        assertBinaryFrame(frames[0], big, 'big frame')
        assert.equal(peer.pendingBytes, 0)
      })
    })

    describe('reading', () => {
      it('pushes each binary message as one chunk, in order, fragmented ones reassembled', async () => {
        const {stream, peer, stats} = await wirePair()
        const got: Buffer[] = []
        stream.on('data', (d: Buffer) => got.push(d))
        peer.sendRaw(
          Buffer.concat([
            encodeFrame(Opcode.Binary, A),
            encodeFrame(Opcode.Binary, B.subarray(0, 1), {fin: false}),
            encodeFrame(Opcode.Continuation, B.subarray(1)),
            encodeFrame(Opcode.Binary, C),
          ]),
        )
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`got ${got.length} chunks`)), WAIT_MS)
          const check = (): void => {
            if (got.length >= 3) {
              clearTimeout(timer)
              stream.off('data', check)
              resolve()
            }
          }
          stream.on('data', check)
          check()
        })
        assert.deepEqual(
          got.map((b) => b.toString('hex')),
          [A, B, C].map((b) => b.toString('hex')),
        )
        assert.equal(stats.wsFramesIn, 3)
      })

      it('backpressure: push returning false pauses the WebSocket, reading resumes it', async () => {
        const {stream, ws, peer} = await wsPair()
        const hwm = stream.readableHighWaterMark
        const frame = 1024
        const first = Math.ceil((2 * hwm) / frame)
        const later = 8
        const payload = (i: number): Buffer => Buffer.alloc(frame, i & 0xff)
        const calls: string[] = []
        const {pause, resume} = ws
        let onPause: (() => void) | undefined
        ws.pause = function (this: WebSocket) {
          calls.push('pause')
          onPause?.()
          return pause.call(this)
        }
        ws.resume = function (this: WebSocket) {
          calls.push('resume')
          return resume.call(this)
        }
        const paused = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the WebSocket was never paused')), WAIT_MS)
          onPause = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        // Nobody reads the stream yet: the first hwm bytes fill it, then push returns false.
        for (let i = 0; i < first; i++) peer.send(payload(i), {binary: true})
        await paused
        assert.equal(ws.isPaused, true)
        assert.ok(stream.readableLength >= hwm, `buffered ${stream.readableLength} < hwm ${hwm}`)
        assert.equal(calls.includes('resume'), false)
        // Sent while the server is paused: these arrive only if reading resumes the WebSocket.
        for (let i = first; i < first + later; i++) peer.send(payload(i), {binary: true})

        const total = (first + later) * frame
        const got: Buffer[] = []
        let size = 0
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`read ${size} of ${total} bytes; calls ${calls.join(',')}`)), WAIT_MS)
          stream.on('data', (d: Buffer) => {
            got.push(d)
            size += d.length
            if (size >= total) {
              clearTimeout(timer)
              resolve()
            }
          })
        })
        assert.equal(size, total)
        assert.equal(got.length, first + later, 'one chunk per message')
        for (let i = 0; i < got.length; i++) assert.ok(got[i].equals(payload(i)), `chunk ${i} out of order or altered`)
        assert.ok(calls.indexOf('resume') > calls.indexOf('pause'), `resume after pause: ${calls.join(',')}`)
        assert.equal(ws.isPaused, false)
      })

      it('a text frame closes the WebSocket with 1003 and destroys the stream, ignoring what follows', async () => {
        const {stream, peer} = await wirePair()
        const data: Buffer[] = []
        stream.on('data', (d: Buffer) => data.push(d))
        const closedStream = once(stream, 'close')
        peer.sendRaw(Buffer.concat([encodeFrame(Opcode.Binary, A), encodeFrame(Opcode.Text, Buffer.from('hi')), encodeFrame(Opcode.Binary, B)]))
        await closedStream
        assert.equal(stream.destroyed, true)
        assert.equal(stream.textFrameReceived, true)
        const closed = await peer.waitClosed()
        assert.deepEqual(closed, {code: WS_CLOSE_UNSUPPORTED_DATA, reason: 'MQTT over WebSocket needs binary frames', closeFrameReceived: true})
        assert.equal(WS_CLOSE_UNSUPPORTED_DATA, 1003)
        assert.deepEqual(
          data.map((d) => d.toString('hex')),
          [A.toString('hex')],
          'the binary frame before the text frame was delivered, the one after it was not',
        )
      })

      it('data received before the peer closes is still readable, then the stream ends and closes', async () => {
        const {stream, peer} = await wirePair()
        // The reader is paused (as the broker is while it processes CONNECT).
        stream.pause()
        peer.sendRaw(Buffer.concat([encodeFrame(Opcode.Binary, A), encodeFrame(Opcode.Binary, B)]))
        peer.close()
        await peer.waitClosed()
        const wsClosed = stream.ws.readyState === stream.ws.CLOSED ? Promise.resolve() : once(stream.ws, 'close')
        await wsClosed
        assert.equal(stream.destroyed, false, 'destroyed with unread data')
        const got: Buffer[] = []
        stream.on('data', (d: Buffer) => got.push(d))
        const ended = once(stream, 'end')
        const closed = once(stream, 'close')
        stream.resume()
        await ended
        await closed
        assert.deepEqual(
          got.map((d) => d.toString('hex')),
          [A, B].map((d) => d.toString('hex')),
        )
      })

      it('when the peer closes with nothing unread, the stream closes at once', async () => {
        const {stream, peer} = await wsPair()
        stream.resume()
        const closed = once(stream, 'close')
        peer.close(1000)
        await closed
        assert.equal(stream.destroyed, true)
        assert.equal(stream.readableEnded, true)
      })
    })

    describe('closing', () => {
      it('destroy() closes the WebSocket with 1000', async () => {
        const {stream, peer} = await wsPair()
        const closed = once<number>(peer, 'close')
        stream.destroy()
        assert.equal(await closed, 1000)
      })

      it('destroy(error) closes the WebSocket with 1011 and emits the error', async () => {
        const {stream, peer} = await wsPair()
        const closed = once<number>(peer, 'close')
        const errored = once<Error>(stream, 'error')
        const error = new Error('boom')
        stream.destroy(error)
        assert.equal(await errored, error)
        assert.equal(await closed, 1011)
      })

      it('end() sends what was written, then closes the WebSocket with 1000', async () => {
        const {stream, peer} = await wirePair()
        stream.write(A)
        stream.end(B)
        const closed = await peer.waitClosed()
        assert.equal(closed.code, 1000)
        const data = peer.dataFrames
        assert.equal(data.length, 2)
        assertBinaryFrame(data[0], A, 'frame 1')
        assertBinaryFrame(data[1], B, 'frame 2')
        assert.equal(peer.frames[peer.frames.length - 1].opcode, Opcode.Close)
      })
    })
  })
}
