/**
 * The bench client's reader of server→client WebSocket frames (the framing itself is
 * transport/ws-frame.ts, shared with the broker). The load generator frames pre-encoded
 * packets itself so that its cost per message stays far below a broker's; `ws` is not on
 * this path.
 */
import {CloseCode, HeaderReader, Opcode, parseClose} from '../../transport/ws-frame.js'

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
  private readonly reader = new HeaderReader()
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
        if (this.opcode === Opcode.Binary || this.opcode === Opcode.Continuation) this.sink.onData(chunk, off, off + take)
        else this.control.push(chunk.subarray(off, off + take))
        off += take
        this.remaining -= take
        if (this.remaining === 0) this.endFrame()
        continue
      }
      const next = this.reader.read(chunk, off, n)
      if (next === -1) return
      off = next
      this.startFrame()
    }
  }

  private startFrame(): void {
    const h = this.reader.header
    this.opcode = h.opcode
    this.remaining = h.length
    if (h.masked) return this.fail(CloseCode.ProtocolError, 'the server masked a frame')
    if (h.opcode === Opcode.Text) return this.fail(CloseCode.UnsupportedData, 'the server sent a text frame')
    if (this.remaining === 0) this.endFrame()
  }

  private endFrame(): void {
    if (this.opcode < Opcode.Close) return // data: nothing to finish
    const body = Buffer.concat(this.control)
    this.control = []
    if (this.opcode === Opcode.Ping) this.sink.onPing(body)
    else if (this.opcode === Opcode.Close) {
      this.closed = true
      const close = parseClose(body)
      if (close.ok) this.sink.onClose(close.code, close.reason)
      else this.sink.onClose(close.code, close.error)
    }
  }

  private fail(code: number, reason: string): void {
    this.closed = true
    this.sink.onClose(code, reason)
  }
}
