/**
 * The 16-byte header every bench payload starts with: publisher index, sequence number
 * and the send time, so the receiver measures latency, loss and duplicates from the
 * message alone (no clock shared beyond this process).
 */
export const STAMP_BYTES = 16

/** Writes [publisher u32][seq u32][sent-at ns since timeOrigin, u64] into `buf`. */
export function stamp(buf: Buffer, publisher: number, seq: number, nowNs: bigint): void {
  buf.writeUInt32BE(publisher, 0)
  buf.writeUInt32BE(seq >>> 0, 4)
  buf.writeBigUInt64BE(nowNs, 8)
}

/** The fields of a stamp at buf[at]. */
export function stampPublisher(buf: Buffer, at = 0): number {
  return buf.readUInt32BE(at)
}

export function stampSeq(buf: Buffer, at = 0): number {
  return buf.readUInt32BE(at + 4)
}

export function stampTime(buf: Buffer, at = 0): bigint {
  return buf.readBigUInt64BE(at + 8)
}

/** The send time as a Number of ns (no BigInt on the receive path). */
export function stampTimeNs(buf: Buffer, at = 0): number {
  return buf.readUInt32BE(at + 8) * 4_294_967_296 + buf.readUInt32BE(at + 12)
}

/** Which sequence numbers of one publisher arrived: counts uniques and duplicates without a Set. */
export class SeqTracker {
  private bits = new Uint8Array(1024)
  unique = 0
  duplicates = 0

  add(seq: number): void {
    const byte = seq >>> 3
    if (byte >= this.bits.length) {
      let size = this.bits.length * 2
      while (size <= byte) size *= 2
      const grown = new Uint8Array(size)
      grown.set(this.bits)
      this.bits = grown
    }
    const mask = 1 << (seq & 7)
    if (this.bits[byte] & mask) this.duplicates++
    else {
      this.bits[byte] |= mask
      this.unique++
    }
  }
}
