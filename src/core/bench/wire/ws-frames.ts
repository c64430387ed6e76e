/**
 * The bench's own WebSocket framing, client side (RFC 6455 §5): masked binary frames out,
 * unmasked server frames in. The load generator frames pre-encoded packets itself so that
 * its cost per message stays far below a broker's; `ws` is not on this path.
 */
import {randomBytes} from 'node:crypto'

const OP_CONTINUATION = 0x0
const OP_BINARY = 0x2
const OP_CLOSE = 0x8
const OP_PING = 0x9

/** Header bytes of a masked client frame carrying `length` payload bytes (mask key included). */
export function clientHeaderSize(length: number): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + 4
}

/**
 * A mask key and its 32-bit views. The generator reuses one key per connection: fresh keys
 * only protect HTTP proxies from cache poisoning, which loopback has none of, and the broker
 * still unmasks every byte as it would for a browser.
 */
export class MaskKey {
  readonly bytes: Buffer

  constructor(bytes: Buffer = randomBytes(4)) {
    this.bytes = bytes
  }

  /** The mask of the 4 payload bytes starting at payload index `i`, as a big-endian u32. */
  word(i: number): number {
    const k = this.bytes
    return ((k[i & 3] << 24) | (k[(i + 1) & 3] << 16) | (k[(i + 2) & 3] << 8) | k[(i + 3) & 3]) >>> 0
  }

  /** The mask of the 2 payload bytes starting at payload index `i`. */
  half(i: number): number {
    return (this.bytes[i & 3] << 8) | this.bytes[(i + 1) & 3]
  }
}

/** Writes a masked binary frame header at `off`; returns where the payload starts. */
export function writeClientHeader(buf: Buffer, off: number, length: number, key: MaskKey): number {
  buf[off++] = 0x80 | OP_BINARY
  if (length < 126) {
    buf[off++] = 0x80 | length
  } else if (length < 0x10000) {
    buf[off++] = 0x80 | 126
    buf.writeUInt16BE(length, off)
    off += 2
  } else {
    buf[off++] = 0x80 | 127
    buf.writeUInt32BE(0, off)
    buf.writeUInt32BE(length, off + 4)
    off += 8
  }
  key.bytes.copy(buf, off)
  return off + 4
}

/** XORs buf[start, end) with the key, payload index 0 at `start`. */
export function maskInPlace(buf: Buffer, start: number, end: number, key: MaskKey): void {
  const k = key.bytes
  for (let i = start; i < end; i++) buf[i] ^= k[(i - start) & 3]
}

/** One masked binary frame holding `packet` (for the few packets that are not pre-built). */
export function clientFrame(packet: Buffer, key: MaskKey): Buffer {
  const out = Buffer.allocUnsafe(clientHeaderSize(packet.length) + packet.length)
  const start = writeClientHeader(out, 0, packet.length, key)
  packet.copy(out, start)
  maskInPlace(out, start, out.length, key)
  return out
}

export interface FrameSink {
  /** Payload bytes of a binary (or continuation) frame, in order: buf[start, end). */
  onData(buf: Buffer, start: number, end: number): void
  /** The server pinged: answer with this pong payload. */
  onPing(payload: Buffer): void
  /** The server sent a close frame (code, or 1005 when none) or a frame the bench cannot take. */
  onClose(code: number, reason: string): void
}

/**
 * Parses server→client frames from socket chunks of any size. Data payloads go to the
 * sink as slices of the chunk (no copy); only a header split across chunks is buffered.
 */
export class ServerFrameReader {
  private head = Buffer.alloc(14)
  private headLen = 0
  /** Payload bytes of the current frame still to come. */
  private remaining = 0
  private opcode = 0
  private control: Buffer[] = []
  private closed = false

  constructor(private readonly sink: FrameSink) {}

  feed(chunk: Buffer): void {
    let off = 0
    const n = chunk.length
    while (off < n && !this.closed) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - off)
        if (this.opcode === OP_BINARY || this.opcode === OP_CONTINUATION) this.sink.onData(chunk, off, off + take)
        else this.control.push(chunk.subarray(off, off + take))
        off += take
        this.remaining -= take
        if (this.remaining === 0) this.endFrame()
        continue
      }
      // Gather the header (2 to 10 bytes; servers do not mask).
      this.head[this.headLen++] = chunk[off++]
      if (this.headLen < 2) continue
      const len7 = this.head[1] & 0x7f
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (this.head[1] & 0x80 ? 4 : 0)
      if (this.headLen < need) continue
      this.startFrame(len7)
    }
  }

  private startFrame(len7: number): void {
    const h = this.head
    this.opcode = h[0] & 0x0f
    this.remaining = len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? h.readUInt32BE(6) + h.readUInt32BE(2) * 0x1_0000_0000 : len7
    this.headLen = 0
    if (h[1] & 0x80) return this.fail(1002, 'the server masked a frame')
    if (this.opcode === 0x1) return this.fail(1003, 'the server sent a text frame')
    if (this.remaining === 0) this.endFrame()
  }

  private endFrame(): void {
    if (this.opcode < OP_CLOSE) return // data: nothing to finish
    if (this.opcode === OP_PING) this.sink.onPing(Buffer.concat(this.control))
    else if (this.opcode === OP_CLOSE) {
      const body = Buffer.concat(this.control)
      this.closed = true
      this.sink.onClose(body.length >= 2 ? body.readUInt16BE(0) : 1005, body.subarray(2).toString('utf8'))
    }
    this.control = []
  }

  private fail(code: number, reason: string): void {
    this.closed = true
    this.sink.onClose(code, reason)
  }
}

/** A masked pong frame answering `payload`. */
export function pongFrame(payload: Buffer, key: MaskKey): Buffer {
  const f = clientFrame(payload, key)
  f[0] = 0x8a
  return f
}
