/**
 * The broker's side of MQTT over WebSocket without `ws` on the data path: a Duplex over the
 * upgraded socket that does RFC 6455 framing itself. Inbound, the frames of one socket
 * chunk are unmasked and compacted in place over their own headers, so a chunk holding
 * many small frames reaches the MQTT decoder as one push, with no copy or allocation per
 * frame. Outbound, each packet is one binary frame (or one frame per batch with piggyback),
 * and all frames of a batch leave in one socket write.
 *
 * `ws` still serves listeners with permessage-deflate (ws-stream.ts) and the clients.
 */
import {createHash} from 'node:crypto'
import {Duplex} from 'node:stream'
import type {Socket} from 'node:net'
import {countRejected} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
/** As many fragments as `ws` allows in one message; more is an attack, not MQTT. */
export const MAX_FRAGMENTS = 16_384
/** Batches larger than this go out as header + payload writes instead of one copied buffer. */
const COPY_LIMIT = 16 * 1024
const CLOSE_TIMEOUT_MS = 2000

const OP_CONT = 0x0
const OP_TEXT = 0x1
const OP_BINARY = 0x2
const OP_CLOSE = 0x8
const OP_PING = 0x9
const OP_PONG = 0xa

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

function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
}

/** Header bytes of an unmasked server frame with `length` payload bytes. */
function headerSize(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10
}

function writeHeader(buf: Buffer, off: number, opcode: number, length: number): number {
  buf[off++] = 0x80 | opcode
  if (length < 126) {
    buf[off++] = length
  } else if (length < 0x10000) {
    buf[off++] = 126
    buf[off++] = length >> 8
    buf[off++] = length & 0xff
  } else {
    buf[off++] = 127
    buf.writeUInt32BE(Math.floor(length / 0x1_0000_0000), off)
    buf.writeUInt32BE(length >>> 0, off + 4)
    off += 8
  }
  return off
}

function frame(opcode: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(headerSize(payload.length) + payload.length)
  payload.copy(out, writeHeader(out, 0, opcode, payload.length))
  return out
}

export interface WsServerStreamOptions {
  /** One frame per corked batch instead of one per packet. */
  piggyback?: boolean
  /** Largest frame payload accepted (the broker's maximum packet size); larger closes with 1009. */
  maxPayload: number
  stats?: ListenerStats
}

export class WsServerStream extends Duplex {
  readonly piggyback: boolean
  /** Set when the peer sent a text frame: the connection is closed with 1003. */
  textFrameReceived = false
  /** The close code we sent, once we sent one. */
  closeSent: number | undefined
  /** The code our close frame carries when the reader ends or destroys the stream without an error. */
  closeCode = 1000
  private readonly maxPayload: number
  private readonly stats: ListenerStats | undefined
  private readonly onSocketData = (chunk: Buffer): void => this.receive(chunk)

  // Frame parser state. A header may arrive in pieces: it is gathered in `head`.
  private readonly head = Buffer.allocUnsafe(14)
  private headLen = 0
  /** Payload bytes of the current frame not yet seen. */
  private remaining = 0
  private opcode = 0
  private mask0 = 0
  private mask1 = 0
  private mask2 = 0
  private mask3 = 0
  /** Payload bytes of the current frame already unmasked (mask index). */
  private maskPos = 0
  /** A fragmented data message is open (a continuation may follow). */
  private inMessage = false
  private fragments = 0
  /** Payload bytes of the current data message so far. */
  private messageBytes = 0
  /** Payload of a control frame being gathered. */
  private control: Buffer[] = []
  /** Stop parsing: a close frame came or we failed the connection. */
  private halted = false
  /** What to do once the current chunk's data is pushed: close (after a close frame) or fail. */
  private stopping: {code: number; reason: string; failed: boolean} | undefined

  constructor(
    readonly socket: Socket,
    options: WsServerStreamOptions,
  ) {
    super({allowHalfOpen: false, decodeStrings: true})
    this.piggyback = options.piggyback === true
    this.maxPayload = options.maxPayload
    this.stats = options.stats
    socket.on('data', this.onSocketData)
    socket.on('end', () => {
      if (!this.readableEnded) this.push(null)
    })
    socket.on('error', (error: Error) => this.destroy(error))
    socket.on('drain', () => this.emit('drain'))
    // Data not read yet (the reader paused, e.g. while a CONNECT is authenticated, maybe
    // with packets in its decoder) must still reach it, as on a TCP socket: so the stream
    // only ends here; once the reader has seen 'end', autoDestroy closes it.
    socket.on('close', () => {
      if (!this.destroyed && !this.readableEnded) this.push(null)
    })
  }

  /** Frames that arrived with the upgrade request (ws's `head`). */
  start(head: Buffer): void {
    if (head.length > 0) this.receive(Buffer.from(head))
  }

  // ---- inbound

  private receive(chunk: Buffer): void {
    if (this.halted) return
    let w = 0 // where the next unmasked data byte goes (compaction in place)
    let off = 0
    const n = chunk.length
    while (off < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - off)
        if (this.opcode === OP_BINARY || this.opcode === OP_CONT) {
          w = this.unmaskInto(chunk, off, take, w)
        } else {
          const part = Buffer.allocUnsafe(take)
          for (let i = 0; i < take; i++) part[i] = chunk[off + i] ^ this.maskByte(this.maskPos++)
          this.control.push(part)
        }
        off += take
        this.remaining -= take
        if (this.remaining === 0 && !this.endFrame()) break
        continue
      }
      this.head[this.headLen++] = chunk[off++]
      if (this.headLen < 2) continue
      const len7 = this.head[1] & 0x7f
      const need = 6 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0)
      if ((this.head[1] & 0x80) === 0) {
        this.fail(1002, 'client frames must be masked')
        break
      }
      if (this.headLen < need) continue
      if (!this.startFrame(len7)) break
      if (this.remaining === 0 && !this.endFrame()) break
    }
    // The data before a close or a failure still reaches the reader, as on a TCP socket.
    if (w > 0 && !this.push(chunk.subarray(0, w))) this.socket.pause()
    const stop = this.stopping
    if (stop) {
      this.stopping = undefined
      this.halt(stop.code, stop.reason)
      if (stop.failed) this.destroy()
    }
  }

  private maskByte(i: number): number {
    const k = i & 3
    return k === 0 ? this.mask0 : k === 1 ? this.mask1 : k === 2 ? this.mask2 : this.mask3
  }

  /** Unmasks chunk[off, off+take) into chunk[w…] (w <= off); returns the new w. */
  private unmaskInto(chunk: Buffer, off: number, take: number, w: number): number {
    let p = this.maskPos
    const m0 = this.mask0
    const m1 = this.mask1
    const m2 = this.mask2
    const m3 = this.mask3
    const end = off + take
    for (let i = off; i < end; i++) {
      const k = p++ & 3
      chunk[w++] = chunk[i] ^ (k === 0 ? m0 : k === 1 ? m1 : k === 2 ? m2 : m3)
    }
    this.maskPos = p
    return w
  }

  /** Validates a complete header; false when the connection was failed. */
  private startFrame(len7: number): boolean {
    const h = this.head
    const first = h[0]
    const opcode = first & 0x0f
    const fin = (first & 0x80) !== 0
    let at = 2
    let length = len7
    if (len7 === 126) {
      length = h.readUInt16BE(2)
      at = 4
    } else if (len7 === 127) {
      const hi = h.readUInt32BE(2)
      length = hi * 0x1_0000_0000 + h.readUInt32BE(6)
      at = 10
      if (hi > 0x1fffff) return this.fail(1009, `a frame of more than ${this.maxPayload} bytes`)
    }
    this.mask0 = h[at]
    this.mask1 = h[at + 1]
    this.mask2 = h[at + 2]
    this.mask3 = h[at + 3]
    this.headLen = 0
    this.maskPos = 0
    if (first & 0x70) return this.fail(1002, 'reserved bits set (no extension was negotiated)')
    if (opcode >= OP_CLOSE) {
      if (!fin) return this.fail(1002, 'a fragmented control frame')
      if (length > 125) return this.fail(1002, 'a control frame over 125 bytes')
      if (opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG) return this.fail(1002, `reserved opcode ${opcode}`)
    } else if (opcode === OP_TEXT) {
      this.textFrameReceived = true
      if (this.stats) countRejected(this.stats, 'text-frame')
      return this.fail(1003, 'MQTT over WebSocket needs binary frames')
    } else if (opcode === OP_BINARY) {
      if (this.inMessage) return this.fail(1002, 'a new message inside a fragmented one')
      this.inMessage = !fin
      this.fragments = 1
      this.messageBytes = 0
    } else if (opcode === OP_CONT) {
      if (!this.inMessage) return this.fail(1002, 'a continuation frame with nothing to continue')
      if (++this.fragments > MAX_FRAGMENTS) return this.fail(1008, `more than ${MAX_FRAGMENTS} fragments in one message`)
      if (fin) this.inMessage = false
    } else {
      return this.fail(1002, `reserved opcode ${opcode}`)
    }
    if (opcode <= OP_BINARY) {
      // A message may span frames; like ws, the limit applies to the whole message.
      this.messageBytes += length
      if (this.messageBytes > this.maxPayload) return this.fail(1009, `a message of more than ${this.maxPayload} bytes`)
    }
    this.opcode = opcode
    this.remaining = length
    if (this.stats && opcode <= OP_BINARY) this.stats.wsFramesIn++
    return true
  }

  /** A frame's payload is complete; false when parsing must stop. */
  private endFrame(): boolean {
    const opcode = this.opcode
    if (opcode < OP_CLOSE) return true
    const payload = this.control.length === 1 ? this.control[0] : Buffer.concat(this.control)
    this.control = []
    if (opcode === OP_PING) {
      this.socket.write(frame(OP_PONG, payload))
      return true
    }
    if (opcode === OP_PONG) return true
    // Close: echo a valid code, then end the connection.
    if (payload.length === 1) return this.fail(1002, 'a close frame with a 1-byte payload')
    if (payload.length >= 2) {
      const code = payload.readUInt16BE(0)
      if (!validCloseCode(code)) return this.fail(1002, `invalid close code ${code}`)
      try {
        new TextDecoder('utf-8', {fatal: true}).decode(payload.subarray(2))
      } catch {
        return this.fail(1007, 'the close reason is not valid UTF-8')
      }
      this.stopping = {code, reason: '', failed: false}
    } else {
      this.stopping = {code: 1000, reason: '', failed: false}
    }
    this.halted = true
    return false
  }

  /** Fails the connection (RFC 6455 §7.1.7) with a close code, once this chunk's data is pushed. */
  private fail(code: number, reason: string): false {
    this.halted = true
    this.stopping = {code, reason, failed: true}
    return false
  }

  /** Stops reading, sends our close frame once, and ends the socket. */
  private halt(code: number, reason: string): void {
    this.halted = true
    this.socket.off('data', this.onSocketData)
    this.sendClose(code, reason)
    if (!this.readableEnded) this.push(null)
  }

  private sendClose(code: number, reason: string): void {
    if (this.closeSent !== undefined) return
    this.closeSent = code
    if (!this.socket.writable) return
    const body = Buffer.allocUnsafe(2 + Buffer.byteLength(reason))
    body.writeUInt16BE(code, 0)
    body.write(reason, 2)
    this.socket.end(frame(OP_CLOSE, body))
    setTimeout(destroySocket, CLOSE_TIMEOUT_MS, this.socket).unref()
  }

  override _read(): void {
    if (this.socket.isPaused()) this.socket.resume()
  }

  // ---- outbound

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.closeSent !== undefined || !this.socket.writable) return callback()
    this.writeFrames([chunk], chunk.length, callback)
  }

  /** PacketBatchWriter: bytes not yet handed to the kernel, through the stream or written directly. */
  get pendingBytes(): number {
    return this.writableLength + this.socket.writableLength
  }

  /**
   * PacketBatchWriter: a turn's packets, one frame each (one frame for all with piggyback),
   * written to the socket at once — no stream write, buffered entry or callback per packet.
   * The socket's 'drain' is re-emitted as this stream's, for the broker's flow control.
   */
  writePackets(packets: readonly Buffer[], bytes: number): void {
    if (this.closeSent !== undefined || !this.socket.writable) return
    this.writeFrames(packets, bytes, undefined)
  }

  /** Frames `packets` (one frame each, or one for all with piggyback) and writes them to the socket. */
  private writeFrames(packets: readonly Buffer[], bytes: number, callback: ((error?: Error | null) => void) | undefined): void {
    const n = packets.length
    const socket = this.socket
    if (this.piggyback) {
      const out = Buffer.allocUnsafe(headerSize(bytes) + bytes)
      let off = writeHeader(out, 0, OP_BINARY, bytes)
      for (let i = 0; i < n; i++) off += packets[i].copy(out, off)
      if (this.stats) this.stats.wsFramesOut++
      socket.write(out, callback)
      return
    }
    if (this.stats) this.stats.wsFramesOut += n
    if (bytes <= COPY_LIMIT) {
      // Small packets (the common case): every frame of the batch in one buffer, one write.
      let total = bytes
      for (let i = 0; i < n; i++) total += headerSize(packets[i].length)
      const out = Buffer.allocUnsafe(total)
      let off = 0
      for (let i = 0; i < n; i++) {
        const p = packets[i]
        off = writeHeader(out, off, OP_BINARY, p.length)
        off += p.copy(out, off)
      }
      socket.write(out, callback)
      return
    }
    socket.cork()
    for (let i = 0; i < n; i++) {
      const p = packets[i]
      const header = Buffer.allocUnsafe(headerSize(p.length))
      writeHeader(header, 0, OP_BINARY, p.length)
      socket.write(header)
      socket.write(p, i === n - 1 ? callback : undefined)
    }
    socket.uncork()
  }

  override _writev(chunks: Array<{chunk: Buffer}>, callback: (error?: Error | null) => void): void {
    if (this.closeSent !== undefined || !this.socket.writable) return callback()
    const packets = chunks.map((c) => c.chunk)
    let bytes = 0
    for (const p of packets) bytes += p.length
    this.writeFrames(packets, bytes, callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.sendClose(this.closeCode, '')
    callback()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.off('data', this.onSocketData)
    // A clean close when we can; the socket goes after CLOSE_TIMEOUT_MS at the latest.
    if (this.closeSent === undefined && this.socket.writable) this.sendClose(error ? 1011 : this.closeCode, '')
    else if (this.closeSent === undefined) this.socket.destroy()
    callback(error)
  }
}

function destroySocket(socket: Socket): void {
  socket.destroy()
}
