/**
 * A Duplex over a `ws` WebSocket that carries MQTT the way the spec wants it:
 * binary frames only, any split of packets over frames on the way in, and on the way
 * out exactly one frame per write (one MQTT packet) — or, with `piggyback`, one frame
 * for everything written in one corked batch.
 *
 * Why not ws.createWebSocketStream: writing a packet in pieces into it produces one
 * frame per piece (6 frames for a small PUBLISH; mqttjs/mqtt-packet#24).
 */
import {Duplex} from 'node:stream'
import type {Socket} from 'node:net'
import type WebSocket from 'ws'
import {TransportError} from '../errors.js'
import {countRejected} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'
import type {WsFraming} from './types.js'

export type {WsFraming} from './types.js'

const kStream = Symbol('wsStream')

export interface WsStreamOptions {
  /** One frame per corked batch instead of one per packet (same as framing: 'piggyback'). */
  piggyback?: boolean
  framing?: WsFraming
  /** The TCP/TLS socket under the WebSocket, so that a batch of frames leaves in one syscall. */
  rawSocket?: Socket
  stats?: ListenerStats
}

/** Close code 1003: the endpoint received data it cannot accept (RFC 6455 §7.4.1). */
export const WS_CLOSE_UNSUPPORTED_DATA = 1003

type TaggedWs = WebSocket & {[kStream]: WsStream}

const SEND_OPTS = {binary: true, compress: false}
/** When permessage-deflate was negotiated: every message compressed (MQTT packets are small). */
const SEND_OPTS_DEFLATE = {binary: true, compress: true}

function onWsMessage(this: TaggedWs, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const stream = this[kStream]
  // Once the stream is destroyed, drop data but keep reading: pausing (push returns false)
  // would leave the peer's close frame unread and hold the socket for ws's 30 s close timeout.
  if (stream.destroyed) return
  if (!isBinary) {
    stream.textFrameReceived = true
    if (stream.stats) countRejected(stream.stats, 'text-frame')
    this.close(WS_CLOSE_UNSUPPORTED_DATA, 'MQTT over WebSocket needs binary frames')
    stream.destroy()
    return
  }
  if (stream.stats) stream.stats.wsFramesIn++
  // binaryType is 'nodebuffer', so data is a Buffer.
  if (!stream.push(data as Buffer)) this.pause()
}

/** Close codes that say something went wrong (not 1000 normal, 1001 going away, 1005 none, 1006 no close frame). */
function peerCloseError(code: number, reason: Buffer): Error | undefined {
  if (code === 1000 || code === 1001 || code === 1005 || code === 1006) return undefined
  const why = reason.length > 0 ? `: ${reason.toString()}` : ''
  const hint = code === 1009 ? ' (Message Too Big: a packet larger than the peer accepts; for an mqttws broker, raise serve --max-packet-size)' : ''
  return new TransportError(`the peer closed the WebSocket with ${code}${why}${hint}`)
}

function onWsClose(this: TaggedWs, code: number, reason: Buffer): void {
  const stream = this[kStream]
  if (stream.destroyed) return
  const failure = peerCloseError(code, reason)
  if (failure && stream.readableLength === 0 && stream.listenerCount('error') > 0) return void stream.destroy(failure)
  if (!stream.readableEnded) stream.push(null)
  // Data received before the close but not read yet (the reader paused, e.g. during CONNECT)
  // must still reach the reader, as on a TCP socket: then 'end', and autoDestroy closes the
  // stream. Destroying now would drop it.
  if (stream.readableLength === 0) stream.destroy()
}

function onWsError(this: TaggedWs, error: Error): void {
  this[kStream].destroy(error)
}

export class WsStream extends Duplex {
  readonly ws: WebSocket
  readonly piggyback: boolean
  /** 0, or the largest frame payload when packets are split over frames. */
  readonly splitBytes: number
  private readonly sendOpts: {binary: boolean; compress: boolean}
  readonly rawSocket?: Socket
  readonly stats?: ListenerStats
  /** Set when the peer sent a text frame: the connection is closed with 1003. */
  textFrameReceived = false
  /** The code our close frame carries when the reader ends or destroys the stream without an error. */
  closeCode = 1000

  constructor(ws: WebSocket, options: WsStreamOptions = {}) {
    super({allowHalfOpen: false, decodeStrings: true})
    this.ws = ws
    const framing = options.framing ?? (options.piggyback ? 'piggyback' : 'packet')
    this.piggyback = framing === 'piggyback'
    this.splitBytes = typeof framing === 'object' ? Math.max(1, Math.floor(framing.splitBytes)) : 0
    this.sendOpts = ws.extensions.includes('permessage-deflate') ? SEND_OPTS_DEFLATE : SEND_OPTS
    this.rawSocket = options.rawSocket
    this.stats = options.stats
    ws.binaryType = 'nodebuffer'
    ;(ws as TaggedWs)[kStream] = this
    ws.on('message', onWsMessage as (this: WebSocket, ...args: unknown[]) => void)
    ws.on('close', onWsClose as (this: WebSocket) => void)
    ws.on('error', onWsError as (this: WebSocket, error: Error) => void)
  }

  override _read(): void {
    if (this.ws.isPaused) this.ws.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // The peer's close frame came: what we write now is dropped, as a TCP peer would (the close says why).
    if (this.ws.readyState !== this.ws.OPEN) return callback()
    if (this.splitBytes > 0) return this.sendSplit([chunk], callback)
    if (this.stats) this.stats.wsFramesOut++
    this.ws.send(chunk, this.sendOpts, callback)
  }

  /** Each packet as consecutive binary messages of at most splitBytes (a testing mode; not the hot path). */
  private sendSplit(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    const size = this.splitBytes
    const raw = this.rawSocket
    if (raw) raw.cork()
    const pieces: Buffer[] = []
    for (const chunk of chunks) for (let off = 0; off < chunk.length; off += size) pieces.push(chunk.subarray(off, off + size))
    const last = pieces.pop()
    for (const p of pieces) this.ws.send(p, this.sendOpts)
    if (last) this.ws.send(last, this.sendOpts, callback)
    else callback()
    if (raw) raw.uncork()
    if (this.stats) this.stats.wsFramesOut += pieces.length + (last ? 1 : 0)
  }

  override _writev(chunks: Array<{chunk: Buffer}>, callback: (error?: Error | null) => void): void {
    const n = chunks.length
    if (this.ws.readyState !== this.ws.OPEN) return callback()
    if (this.splitBytes > 0) return this.sendSplit(chunks.map((c) => c.chunk), callback)
    if (this.piggyback) {
      let total = 0
      for (let i = 0; i < n; i++) total += chunks[i].chunk.length
      const one = Buffer.allocUnsafe(total)
      let off = 0
      for (let i = 0; i < n; i++) off += chunks[i].chunk.copy(one, off)
      if (this.stats) this.stats.wsFramesOut++
      this.ws.send(one, this.sendOpts, callback)
      return
    }
    // One frame per packet, but all frames of the batch in one write to the socket.
    const raw = this.rawSocket
    if (raw) raw.cork()
    for (let i = 0; i < n - 1; i++) this.ws.send(chunks[i].chunk, this.sendOpts)
    this.ws.send(chunks[n - 1].chunk, this.sendOpts, callback)
    if (raw) raw.uncork()
    if (this.stats) this.stats.wsFramesOut += n
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(this.closeCode)
    callback()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const ws = this.ws
    if (ws.readyState === ws.CONNECTING || ws.readyState === ws.OPEN) {
      // A clean close handshake when we can; ws terminates after its own timeout otherwise.
      ws.close(error ? 1011 : this.closeCode)
      const raw = this.rawSocket
      if (raw) setTimeout(destroySocket, 2000, raw).unref()
    }
    callback(error)
  }
}

function destroySocket(socket: Socket): void {
  socket.destroy()
}
