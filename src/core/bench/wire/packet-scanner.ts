/**
 * Splits a byte stream into MQTT packets without decoding them: the bench's receive
 * path only needs a packet's type, packet id and (for PUBLISH) where the payload starts.
 * A packet whole in one chunk is handed over as a slice of it; only packets that straddle
 * chunks are copied.
 */

export interface PacketSink {
  /** One whole packet: buf[start] is its first byte, buf[body, end) its variable header and payload. */
  onPacket(buf: Buffer, start: number, body: number, end: number): void
}

/**
 * The offset after a block at `off` that starts with its own size as a variable byte
 * integer: an MQTT 5 property block, or, from a whole packet's second byte, its Remaining
 * Length and the rest of the packet.
 */
export function skipVarSized(buf: Buffer, off: number): number {
  let len = 0
  let mul = 1
  let b: number
  do {
    b = buf[off++]
    len += (b & 0x7f) * mul
    mul *= 128
  } while (b & 0x80)
  return off + len
}

/** Far above anything the bench receives; a stream claiming more is garbage. */
const MAX_PACKET = 16 * 1024 * 1024

export class PacketScanner {
  private carry: Buffer | undefined
  private carryLen = 0

  constructor(private readonly sink: PacketSink) {}

  /** Feeds buf[start, end); throws on a length the bench would never accept. */
  feed(buf: Buffer, start: number, end: number): void {
    if (this.carryLen > 0) {
      start = this.fillCarry(buf, start, end)
      if (start < 0) return
    }
    let off = start
    while (off < end) {
      const got = this.packetAt(buf, off, end)
      if (got < 0) break
      off = got
    }
    if (off < end) this.keep(buf, off, end)
  }

  /** Emits the packet at `off` if it is complete; returns its end, or -1. */
  private packetAt(buf: Buffer, off: number, end: number): number {
    let i = off + 1
    let len = 0
    let mul = 1
    for (;;) {
      if (i >= end) return -1
      const b = buf[i++]
      len += (b & 0x7f) * mul
      if ((b & 0x80) === 0) break
      mul *= 128
      if (mul > 128 ** 3) throw new Error('malformed remaining length from the broker')
    }
    if (len > MAX_PACKET) throw new Error(`the broker sent a ${len}-byte packet`)
    if (i + len > end) return -1
    this.sink.onPacket(buf, off, i, i + len)
    return i + len
  }

  private keep(buf: Buffer, off: number, end: number): void {
    const n = end - off
    if (!this.carry || this.carry.length < n) this.carry = Buffer.allocUnsafe(Math.max(n, 4096))
    buf.copy(this.carry, 0, off, end)
    this.carryLen = n
  }

  /**
   * Completes the straddling packet from the new chunk: copies just enough bytes to know
   * its length and then its end. Returns where the rest of the chunk starts, or -1 when
   * the chunk was used up.
   */
  private fillCarry(buf: Buffer, start: number, end: number): number {
    let off = start
    for (;;) {
      const total = this.wholeLength(this.carry!, this.carryLen)
      const need = total < 0 ? 1 : total - this.carryLen
      if (need === 0) break
      const take = Math.min(need, end - off)
      if (take === 0) return -1
      this.grow(this.carryLen + take)
      buf.copy(this.carry!, this.carryLen, off, off + take)
      this.carryLen += take
      off += take
    }
    const packet = this.carry!
    const n = this.carryLen
    this.carryLen = 0
    const body = this.bodyStart(packet)
    this.sink.onPacket(packet, 0, body, n)
    return off
  }

  /** Total bytes of the packet at the start of buf[0, have), or -1 while its length is incomplete. */
  private wholeLength(buf: Buffer, have: number): number {
    let len = 0
    let mul = 1
    for (let i = 1; i < have; i++) {
      const b = buf[i]
      len += (b & 0x7f) * mul
      if ((b & 0x80) === 0) {
        if (len > MAX_PACKET) throw new Error(`the broker sent a ${len}-byte packet`)
        return i + 1 + len
      }
      mul *= 128
      if (mul > 128 ** 3) throw new Error('malformed remaining length from the broker')
    }
    return -1
  }

  private bodyStart(buf: Buffer): number {
    let i = 1
    while (buf[i] & 0x80) i++
    return i + 1
  }

  private grow(n: number): void {
    if (this.carry!.length >= n) return
    const bigger = Buffer.allocUnsafe(Math.max(n, this.carry!.length * 2))
    this.carry!.copy(bigger, 0, 0, this.carryLen)
    this.carry = bigger
  }
}
