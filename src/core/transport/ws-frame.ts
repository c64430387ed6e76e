/**
 * RFC 6455 framing as pure functions over Buffers: frame headers (server frames unmasked,
 * client frames masked), masking, header parsing, close frames. No I/O and no state beyond
 * what a caller passes in, so the broker's WebSocket stream (ws-server-stream.ts) and the
 * bench's client (bench/wire) share it, and it is tested on bytes alone.
 *
 * Hot-path rules: nothing here allocates except the `*Frame()` helpers (control frames and
 * setup packets); headers are written into the caller's buffer and parsed into the caller's
 * FrameHeader; masking works in place.
 */

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const

export const CloseCode = {
  Normal: 1000,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Never on the wire: "the close frame had no code". */
  NoStatus: 1005,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
} as const

/** The largest header: 2 + 8 (64-bit length) + 4 (mask key). */
export const MAX_HEADER_SIZE = 14
/** A control frame's payload limit (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125

/** Header bytes of an unmasked (server) frame with `length` payload bytes. */
export function headerSize(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10
}

/** Header bytes of a masked (client) frame with `length` payload bytes, mask key included. */
export function maskedHeaderSize(length: number): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + 4
}

/** The payload length in 7, 16 or 64 bits, after the first byte; returns where it ends. */
function writeLength(buf: Buffer, off: number, length: number, maskBit: number): number {
  if (length < 126) {
    buf[off++] = maskBit | length
  } else if (length < 0x10000) {
    buf[off++] = maskBit | 126
    buf[off++] = length >> 8
    buf[off++] = length & 0xff
  } else {
    buf[off++] = maskBit | 127
    buf.writeUInt32BE(Math.floor(length / 0x1_0000_0000), off)
    buf.writeUInt32BE(length >>> 0, off + 4)
    off += 8
  }
  return off
}

/** Writes the header of a final, unmasked frame at `off`; returns where the payload starts. */
export function writeHeader(buf: Buffer, off: number, opcode: number, length: number): number {
  buf[off] = 0x80 | opcode
  return writeLength(buf, off + 1, length, 0)
}

/**
 * Writes the header of a final, masked frame at `off` with mask key `key` (the 4 key bytes
 * as a big-endian u32); returns where the payload starts. The payload still has to be masked.
 */
export function writeMaskedHeader(buf: Buffer, off: number, opcode: number, length: number, key: number): number {
  buf[off] = 0x80 | opcode
  off = writeLength(buf, off + 1, length, 0x80)
  buf.writeUInt32BE(key >>> 0, off)
  return off + 4
}

/** From this many payload bytes on, mask() XORs whole 32-bit words (a typed-array view costs more below). */
export const WORD_MASK_MIN = 256

/**
 * XORs buf[from, end) with the mask key and writes the result at buf[to…] (to <= from, so a
 * parser can unmask and drop headers in one pass; to === from masks in place). `pos` is the
 * payload index of buf[from] (where in the key to start). It allocates nothing below
 * WORD_MASK_MIN bytes: four bytes per step with the key rotated to `pos` once (about twice as
 * fast as a byte loop on V8). From WORD_MASK_MIN on it unmasks in place 32 bits at a time over
 * the 4-aligned middle, then moves the bytes down with copyWithin (a memmove): about three
 * times the byte loop's speed on 1 KiB and 64 KiB payloads (the session notes of 2026-12-07).
 */
export function mask(buf: Buffer, from: number, end: number, to: number, key: number, pos: number): void {
  const s = (pos & 3) * 8
  // The key rotated so that its first byte applies to buf[from].
  const r = s === 0 ? key >>> 0 : ((key << s) | (key >>> (32 - s))) >>> 0
  if (end - from >= WORD_MASK_MIN) {
    maskWords(buf, from, end, r)
    if (to !== from) buf.copyWithin(to, from, end)
    return
  }
  const k0 = r >>> 24
  const k1 = (r >>> 16) & 0xff
  const k2 = (r >>> 8) & 0xff
  const k3 = r & 0xff
  let i = from
  let w = to
  const stop = end - 3
  for (; i < stop; i += 4) {
    buf[w++] = buf[i] ^ k0
    buf[w++] = buf[i + 1] ^ k1
    buf[w++] = buf[i + 2] ^ k2
    buf[w++] = buf[i + 3] ^ k3
  }
  if (i < end) buf[w++] = buf[i++] ^ k0
  if (i < end) buf[w++] = buf[i++] ^ k1
  if (i < end) buf[w] = buf[i] ^ k2
}

/** Masks buf[from, end) in place with the key `r` (big-endian, first byte for buf[from]): bytes up to a 4-aligned address, words, then the tail. */
function maskWords(buf: Buffer, from: number, end: number, r: number): void {
  let i = from
  let k = r
  const head = (4 - ((buf.byteOffset + i) & 3)) & 3
  for (let h = 0; h < head; h++) {
    buf[i++] ^= k >>> 24
    k = ((k << 8) | (k >>> 24)) >>> 0
  }
  const words = (end - i) >>> 2
  if (words > 0) {
    // Typed arrays use the platform's byte order: build the word the key makes in memory.
    const word = LITTLE_ENDIAN ? ((k >>> 24) | ((k >>> 8) & 0xff00) | ((k << 8) & 0xff0000) | (k << 24)) | 0 : k | 0
    const view = new Int32Array(buf.buffer, buf.byteOffset + i, words)
    for (let w = 0; w < words; w++) view[w] ^= word
    i += words * 4
  }
  while (i < end) {
    buf[i++] ^= k >>> 24
    k = ((k << 8) | (k >>> 24)) >>> 0
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** The mask key bytes that apply to the 4 payload bytes from payload index `pos`, as a big-endian u32. */
export function maskWord(key: number, pos: number): number {
  const s = (pos & 3) * 8
  return s === 0 ? key >>> 0 : ((key << s) | (key >>> (32 - s))) >>> 0
}

/** A parsed frame header; a parser owns one and readHeader fills it (no object per frame). */
export interface FrameHeader {
  fin: boolean
  /** RSV1..3 as a 3-bit number: 0 unless an extension was negotiated. */
  rsv: number
  opcode: number
  masked: boolean
  /** Payload bytes. Beyond 2^53 (a 64-bit length no one sends) it is not exact, but still huge. */
  length: number
  /** The mask key as a big-endian u32 (0 when not masked). */
  key: number
  /** Header bytes, mask key included. */
  size: number
}

export function newFrameHeader(): FrameHeader {
  return {fin: false, rsv: 0, opcode: 0, masked: false, length: 0, key: 0, size: 0}
}

/** A frame's header size as told by its second byte: 2, 4 or 10, plus 4 when masked. */
export function headerSizeOf(second: number): number {
  const len7 = second & 0x7f
  return (len7 === 126 ? 4 : len7 === 127 ? 10 : 2) + (second & 0x80 ? 4 : 0)
}

/** Parses a complete header (headerSizeOf(buf[off + 1]) bytes at `off`) into `out`. */
export function readHeader(buf: Buffer, off: number, out: FrameHeader): void {
  const first = buf[off]
  const second = buf[off + 1]
  const len7 = second & 0x7f
  let at = off + 2
  let length = len7
  if (len7 === 126) {
    length = (buf[at] << 8) | buf[at + 1]
    at += 2
  } else if (len7 === 127) {
    length = buf.readUInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4)
    at += 8
  }
  out.fin = (first & 0x80) !== 0
  out.rsv = (first >> 4) & 0x7
  out.opcode = first & 0x0f
  out.masked = (second & 0x80) !== 0
  out.length = length
  if (out.masked) {
    out.key = buf.readUInt32BE(at)
    at += 4
  } else {
    out.key = 0
  }
  out.size = at - off
}

/**
 * Gathers a frame header from reads of any size: whole from one chunk when it is there (the
 * common case, read in place), byte by byte into a 14-byte buffer when it is split.
 */
export class HeaderReader {
  readonly header = newFrameHeader()
  private readonly head = Buffer.allocUnsafe(MAX_HEADER_SIZE)
  private have = 0

  /** Header bytes taken so far of a header not complete yet. */
  get partial(): number {
    return this.have
  }

  /**
   * Takes header bytes from buf[off, end). Returns the offset after the header once it is
   * complete (then `header` holds it), or -1 when all of buf was taken and more is needed.
   */
  read(buf: Buffer, off: number, end: number): number {
    if (this.have === 0 && end - off >= 2) {
      const size = headerSizeOf(buf[off + 1])
      if (end - off >= size) {
        readHeader(buf, off, this.header)
        return off + size
      }
    }
    const head = this.head
    while (off < end) {
      head[this.have++] = buf[off++]
      if (this.have >= 2 && this.have === headerSizeOf(head[1])) {
        this.have = 0
        readHeader(head, 0, this.header)
        return off
      }
    }
    return -1
  }

  reset(): void {
    this.have = 0
  }
}

/** One final, unmasked frame (server to client). */
export function frame(opcode: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(headerSize(payload.length) + payload.length)
  payload.copy(out, writeHeader(out, 0, opcode, payload.length))
  return out
}

/** One final frame masked with `key` (client to server). */
export function maskedFrame(opcode: number, payload: Buffer, key: number): Buffer {
  const out = Buffer.allocUnsafe(maskedHeaderSize(payload.length) + payload.length)
  const start = writeMaskedHeader(out, 0, opcode, payload.length, key)
  payload.copy(out, start)
  mask(out, start, out.length, start, key, 0)
  return out
}

/** Close codes a peer may send (RFC 6455 §7.4; 1004–1006 and 1015 never go on the wire). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
}

/** A close frame's payload: the code, then the reason in UTF-8 (cut to fit 125 bytes). */
export function closePayload(code: number, reason = ''): Buffer {
  let text = Buffer.from(reason, 'utf8')
  if (text.length > MAX_CONTROL_PAYLOAD - 2) {
    // Cut before a UTF-8 continuation byte, so that the reason stays valid UTF-8.
    let cut = MAX_CONTROL_PAYLOAD - 2
    while (cut > 0 && (text[cut] & 0xc0) === 0x80) cut--
    text = text.subarray(0, cut)
  }
  const body = Buffer.allocUnsafe(2 + text.length)
  body.writeUInt16BE(code, 0)
  text.copy(body, 2)
  return body
}

export type ParsedClose = {ok: true; code: number; reason: string} | {ok: false; code: number; error: string}

/**
 * Reads a close frame's payload. An empty one means 1005 (no code); a bad one gives the code
 * to fail the connection with (1002 for a bad length or code, 1007 for a reason not UTF-8).
 */
export function parseClose(payload: Buffer): ParsedClose {
  if (payload.length === 0) return {ok: true, code: CloseCode.NoStatus, reason: ''}
  if (payload.length === 1) return {ok: false, code: CloseCode.ProtocolError, error: 'a close frame with a 1-byte payload'}
  const code = payload.readUInt16BE(0)
  if (!validCloseCode(code)) return {ok: false, code: CloseCode.ProtocolError, error: `invalid close code ${code}`}
  try {
    return {ok: true, code, reason: new TextDecoder('utf-8', {fatal: true}).decode(payload.subarray(2))}
  } catch {
    return {ok: false, code: CloseCode.InvalidPayload, error: 'the close reason is not valid UTF-8'}
  }
}
