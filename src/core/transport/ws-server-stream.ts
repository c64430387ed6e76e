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
import {Duplex} from 'node:stream'
import type {Socket} from 'node:net'
import {ErrorCode, ProtocolError} from '../errors.js'
import {countRejected} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'
import type {DirectDataSource} from './types.js'
import {CloseCode, HeaderReader, Opcode, closePayload, frame, headerSize, mask, parseClose, writeHeader} from './ws-frame.js'

/** As many fragments as `ws` allows in one message; more is an attack, not MQTT. */
export const MAX_FRAGMENTS = 16_384
/** Batches larger than this go out as header + payload writes instead of one copied buffer. */
const COPY_LIMIT = 16 * 1024
/** After our close frame the socket goes after this long at the latest, whatever the peer does. */
const CLOSE_TIMEOUT_MS = 1000
/**
 * Bytes the peer may still send after our close frame (what it had in flight, its close frame),
 * read and dropped without unmasking; past it the socket is no longer read at all, so a peer
 * cannot make the broker read a refused 100 MB message to its end (reliability.md row 2).
 */
export const AFTER_CLOSE_BYTES = 64 * 1024

export interface WsServerStreamOptions {
  /** One frame per corked batch instead of one per packet. */
  piggyback?: boolean
  /** Largest frame payload accepted (the broker's maximum packet size); larger closes with 1009. */
  maxPayload: number
  stats?: ListenerStats
}

const kStream = Symbol('wsServerStream')
type OwnedSocket = Socket & {[kStream]: WsServerStream}

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kStream].receive(chunk)
}

function onSocketEnd(this: OwnedSocket): void {
  const stream = this[kStream]
  if (!stream.readableEnded) stream.push(null)
}

function onSocketError(this: OwnedSocket, error: Error): void {
  this[kStream].destroy(error)
}

function onSocketDrain(this: OwnedSocket): void {
  this[kStream].emit('drain')
}

/**
 * Data not read yet (the reader paused, e.g. while a CONNECT is authenticated, maybe with
 * packets in its decoder) must still reach it, as on a TCP socket: so the stream only ends
 * here; once the reader has seen 'end', autoDestroy closes it.
 */
function onSocketClose(this: OwnedSocket): void {
  const stream = this[kStream]
  if (!stream.destroyed && !stream.readableEnded) stream.push(null)
}

export class WsServerStream extends Duplex implements DirectDataSource {
  readonly piggyback: boolean
  /** Set when the peer sent a text frame: the connection is closed with 1003. */
  textFrameReceived = false
  /** The close code we sent, once we sent one. */
  closeSent: number | undefined
  /** The code our close frame carries when the reader ends or destroys the stream without an error. */
  closeCode = 1000
  private readonly maxPayload: number
  private readonly stats: ListenerStats | undefined

  // Frame parser state. A header may arrive in pieces: HeaderReader gathers it.
  private readonly reader = new HeaderReader()
  /** Payload bytes of the current frame not yet seen. */
  private remaining = 0
  private opcode = 0
  /** The current frame's mask key (big-endian u32). */
  private key = 0
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
  /** Bytes dropped since parsing stopped (AFTER_CLOSE_BYTES). */
  private dropped = 0
  /** The reader's 'data' listener, called directly while nothing is buffered (deliver()). */
  private direct: ((this: Duplex, data: Buffer) => void) | undefined
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
    // Module-level listeners that find this stream through a symbol: no closures per connection (memory per idle connection).
    ;(socket as OwnedSocket)[kStream] = this
    socket.on('data', onSocketData)
    socket.on('end', onSocketEnd)
    socket.on('error', onSocketError)
    socket.on('drain', onSocketDrain)
    socket.on('close', onSocketClose)
  }

  /** Frames that arrived with the upgrade request (ws's `head`). */
  start(head: Buffer): void {
    if (head.length > 0) this.receive(Buffer.from(head))
  }

  // ---- inbound

  /** The socket's data (onSocketData): frames in, MQTT bytes pushed. */
  receive(chunk: Buffer): void {
    if (this.halted || this.closeSent !== undefined) return this.dropInput(chunk.length)
    let w = 0 // where the next unmasked data byte goes (compaction in place)
    let off = 0
    const n = chunk.length
    while (off < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - off)
        if (this.opcode === Opcode.Binary || this.opcode === Opcode.Continuation) {
          mask(chunk, off, off + take, w, this.key, this.maskPos)
          w += take
        } else {
          const part = Buffer.from(chunk.subarray(off, off + take))
          mask(part, 0, take, 0, this.key, this.maskPos)
          this.control.push(part)
        }
        this.maskPos += take
        off += take
        this.remaining -= take
        if (this.remaining === 0 && !this.endFrame()) break
        continue
      }
      // Fail an unmasked frame on its second byte, before the rest of its header.
      if (this.reader.partial === 0 ? n - off >= 2 && (chunk[off + 1] & 0x80) === 0 : this.reader.partial === 1 && (chunk[off] & 0x80) === 0) {
        this.fail(CloseCode.ProtocolError, 'client frames must be masked')
        break
      }
      const next = this.reader.read(chunk, off, n)
      if (next === -1) break
      off = next
      if (!this.startFrame()) break
      if (this.remaining === 0 && !this.endFrame()) break
    }
    // The data before a close or a failure still reaches the reader, as on a TCP socket.
    if (w > 0) this.deliver(chunk.subarray(0, w))
    const stop = this.stopping
    if (stop) {
      this.stopping = undefined
      this.halt(stop.code, stop.reason)
      // The broker's log says who closed it and why (not "closed by the client"); an error
      // only for a listener (nobody listening: an 'error' event would throw).
      if (stop.failed) this.destroy(this.listenerCount('error') === 0 ? undefined : new ProtocolError(`the broker closed the WebSocket with ${stop.code}: ${stop.reason}${stop.code === CloseCode.MessageTooBig ? ' (the maximum packet size: raise it with serve --max-packet-size)' : ''}`, {code: stop.code === CloseCode.MessageTooBig ? ErrorCode.PACKET_TOO_LARGE : ErrorCode.PROTOCOL}))
    }
  }

  /**
   * MQTT bytes to the reader: straight to its direct listener while the stream flows with
   * nothing buffered, else through Readable (which buffers while paused, and asks for a
   * pause of the socket when its buffer is full). At 1,000 msg/s Readable's push (addChunk,
   * the 'data' emit, a maybeReadMore tick per push) took about 15% of each read.
   */
  private deliver(data: Buffer): void {
    const direct = this.direct
    if (direct !== undefined && this.readableFlowing === true && this.readableLength === 0 && !this.destroyed) direct.call(this, data)
    else if (!this.push(data)) this.socket.pause()
  }

  /** DirectDataSource: `listener` gets the data directly when it can, and as 'data' otherwise. */
  onDataDirect(listener: (this: Duplex, data: Buffer) => void): void {
    this.direct = listener
    this.on('data', listener)
  }

  /**
   * After a close (ours or the peer's): what arrives is dropped unread, so that the peer's
   * end of the connection is still noticed; past AFTER_CLOSE_BYTES the socket is paused
   * (the close timer destroys it).
   */
  private dropInput(n: number): void {
    this.dropped += n
    if (this.dropped > AFTER_CLOSE_BYTES) this.socket.pause()
  }

  /** Validates a complete header; false when the connection was failed. */
  private startFrame(): boolean {
    const {fin, rsv, opcode, length, key} = this.reader.header
    this.key = key
    this.maskPos = 0
    if (length > Number.MAX_SAFE_INTEGER) return this.fail(CloseCode.MessageTooBig, `a frame of more than ${this.maxPayload} bytes`)
    if (rsv !== 0) return this.fail(CloseCode.ProtocolError, 'reserved bits set (no extension was negotiated)')
    if (opcode >= Opcode.Close) {
      if (!fin) return this.fail(CloseCode.ProtocolError, 'a fragmented control frame')
      if (length > 125) return this.fail(CloseCode.ProtocolError, 'a control frame over 125 bytes')
      if (opcode !== Opcode.Close && opcode !== Opcode.Ping && opcode !== Opcode.Pong) return this.fail(CloseCode.ProtocolError, `reserved opcode ${opcode}`)
    } else if (opcode === Opcode.Text) {
      this.textFrameReceived = true
      if (this.stats) countRejected(this.stats, 'text-frame')
      return this.fail(CloseCode.UnsupportedData, 'MQTT over WebSocket needs binary frames')
    } else if (opcode === Opcode.Binary) {
      if (this.inMessage) return this.fail(CloseCode.ProtocolError, 'a new message inside a fragmented one')
      this.inMessage = !fin
      this.fragments = 1
      this.messageBytes = 0
    } else if (opcode === Opcode.Continuation) {
      if (!this.inMessage) return this.fail(CloseCode.ProtocolError, 'a continuation frame with nothing to continue')
      if (++this.fragments > MAX_FRAGMENTS) return this.fail(CloseCode.PolicyViolation, `more than ${MAX_FRAGMENTS} fragments in one message`)
      if (fin) this.inMessage = false
    } else {
      return this.fail(CloseCode.ProtocolError, `reserved opcode ${opcode}`)
    }
    if (opcode <= Opcode.Binary) {
      // A message may span frames; like ws, the limit applies to the whole message.
      this.messageBytes += length
      if (this.messageBytes > this.maxPayload) return this.fail(CloseCode.MessageTooBig, `a message of more than ${this.maxPayload} bytes`)
    }
    this.opcode = opcode
    this.remaining = length
    if (this.stats && opcode <= Opcode.Binary) this.stats.wsFramesIn++
    return true
  }

  /** A frame's payload is complete; false when parsing must stop. */
  private endFrame(): boolean {
    const opcode = this.opcode
    if (opcode < Opcode.Close) return true
    const payload = this.control.length === 1 ? this.control[0] : Buffer.concat(this.control)
    this.control = []
    if (opcode === Opcode.Ping) {
      this.socket.write(frame(Opcode.Pong, payload))
      return true
    }
    if (opcode === Opcode.Pong) return true
    // Close: echo a valid code (1000 for none), then end the connection.
    const close = parseClose(payload)
    if (!close.ok) return this.fail(close.code, close.error)
    this.stopping = {code: close.code === CloseCode.NoStatus ? CloseCode.Normal : close.code, reason: '', failed: false}
    this.halted = true
    return false
  }

  /** Fails the connection (RFC 6455 §7.1.7) with a close code, once this chunk's data is pushed. */
  private fail(code: number, reason: string): false {
    this.halted = true
    this.stopping = {code, reason, failed: true}
    return false
  }

  /** Stops parsing, sends our close frame once, and ends the socket. */
  private halt(code: number, reason: string): void {
    this.halted = true
    this.sendClose(code, reason)
    if (!this.readableEnded) this.push(null)
  }

  private sendClose(code: number, reason: string): void {
    if (this.closeSent !== undefined) return
    this.closeSent = code
    if (!this.socket.writable) return
    this.socket.end(frame(Opcode.Close, closePayload(code, reason)))
    setTimeout(destroySocket, CLOSE_TIMEOUT_MS, this.socket).unref()
  }

  override _read(): void {
    if (this.socket.isPaused() && this.closeSent === undefined) this.socket.resume()
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
      let off = writeHeader(out, 0, Opcode.Binary, bytes)
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
        off = writeHeader(out, off, Opcode.Binary, p.length)
        off += p.copy(out, off)
      }
      socket.write(out, callback)
      return
    }
    socket.cork()
    for (let i = 0; i < n; i++) {
      const p = packets[i]
      const header = Buffer.allocUnsafe(headerSize(p.length))
      writeHeader(header, 0, Opcode.Binary, p.length)
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
    // A clean close when we can; the socket goes after CLOSE_TIMEOUT_MS at the latest, and
    // what the peer sends meanwhile is dropped (receive, dropInput).
    this.halted = true
    if (this.closeSent === undefined && this.socket.writable) this.sendClose(error ? 1011 : this.closeCode, '')
    else if (this.closeSent === undefined) this.socket.destroy()
    callback(error)
  }
}

function destroySocket(socket: Socket): void {
  socket.destroy()
}
