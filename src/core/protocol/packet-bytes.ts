/** Byte-level helpers of the Decoder (codec.ts): a CONNECT's protocol level, topic bytes, Remaining Length. */
import type {ProtocolVersion} from './codec.js'

/** A CONNECT's protocol name (2 + 4 or 6 bytes) and level. */
export const PEEK_BYTES = 9

/**
 * The protocol level of a CONNECT from the first `n` bytes of its variable header: 3, 4 or 5;
 * 0 when they are not MQTT's (a name other than MQTT or MQIsdp, or a level it does not go
 * with); undefined while more bytes are needed.
 */
export function connectLevel(b: Buffer, n: number): ProtocolVersion | 0 | undefined {
  if (n < 2) return undefined
  const nameLength = (b[0] << 8) | b[1]
  if (nameLength !== 4 && nameLength !== 6) return 0
  if (n < 3 + nameLength) return undefined
  const name = b.toString('latin1', 2, 2 + nameLength)
  const level = b[2 + nameLength]
  if (name === 'MQTT' && (level === 4 || level === 5)) return level
  if (name === 'MQIsdp' && level === 3) return 3
  return 0
}
/** a[start, start+length) equals b[0, length): a loop beats Buffer.compare's checks for topic-sized runs. */
export function sameBytes(a: Buffer, start: number, b: Buffer, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[start + i] !== b[i]) return false
  return true
}

/** Bytes of the Remaining Length field of an encoded packet (which starts at offset 1). */
export function varintLength(packet: Buffer): number {
  let n = 1
  while (packet[n] & 0x80) n++
  return n
}
