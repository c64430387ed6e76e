/**
 * The bench's subscriber on a WireConn: finds each PUBLISH's payload by its offsets,
 * acknowledges QoS 1/2, and hands the payload to the delivery counter (Receiver).
 */
import type {ProtocolVersion} from '../../protocol/codec.js'
import {skipProperties} from './packet-scanner.js'
import type {PacketSink} from './packet-scanner.js'
import type {WireConn} from './wire-conn.js'

/** Takes the payload of each delivered message. */
export interface Receiver {
  /** `nowNs`: when the bytes were read (process.hrtime, ns), for the latency. */
  deliver(buf: Buffer, start: number, end: number, nowNs: number): void
}

export class StampSubscriber implements PacketSink {
  private readonly v5: boolean

  constructor(
    readonly conn: WireConn,
    version: ProtocolVersion,
    private readonly receiver: Receiver,
  ) {
    this.v5 = version === 5
  }

  onPacket(buf: Buffer, start: number, body: number, end: number): void {
    const first = buf[start]
    const type = first >> 4
    if (type === 6) {
      this.conn.sendAck(0x70, buf.readUInt16BE(body)) // PUBREL → PUBCOMP
      return
    }
    if (type !== 3) return
    const qos = (first >> 1) & 3
    let off = body + 2 + buf.readUInt16BE(body)
    if (qos > 0) {
      this.conn.sendAck(qos === 1 ? 0x40 : 0x50, buf.readUInt16BE(off))
      off += 2
    }
    if (this.v5) off = skipProperties(buf, off)
    this.receiver.deliver(buf, off, end, this.conn.readAtNs)
  }
}
