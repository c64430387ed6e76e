/**
 * The bench's publisher on a WireConn: PUBLISH packets built once into a template of
 * ready frames (masked, on WebSocket), and per batch one copy of the template, the
 * 16-byte stamp and packet id written in place (XORed with the mask where framed), and
 * one socket write. No encoding, promise or closure per message, so the generator costs
 * far less per message than the broker it measures.
 */
import {encodePublish} from '../../protocol/encode.js'
import type {QoS} from '../../protocol/codec.js'
import type {BenchPlan} from '../plan.js'
import {SendLoop, qosWindow, windowRoom} from '../publisher.js'
import type {Parkable, PublisherCounters} from '../publisher.js'
import type {PacketSink} from './packet-scanner.js'
import {Opcode, mask, maskWord, maskedHeaderSize, writeMaskedHeader} from '../../transport/ws-frame.js'
import type {WireConn} from './wire-conn.js'

/** Messages per write: enough to amortise the syscall, few enough to keep latency honest. */
export const BATCH = 64
/** Flat out, yield to the event loop after this many batches so receivers get their turn. */
const YIELD_BATCHES = 8

export class BatchPublisher extends SendLoop implements PacketSink, Parkable {
  private readonly onDrain = (): void => {
    this.waitingDrain = false
    this.run()
  }

  private waitingDrain = false
  private nextPid = 1
  /** One message as it goes on the wire (a frame on WebSocket), and BATCH of them back to back. */
  private readonly packet: Buffer
  private readonly frameLen: number
  private readonly template: Buffer
  /** Where the stamp and the packet id sit in a frame, and the masks that apply there. */
  private readonly stampAt: number
  private readonly pidAt: number
  private readonly stampMask: number
  private readonly pidMask: number
  private readonly piggyback: boolean

  constructor(
    readonly conn: WireConn,
    index: number,
    readonly topic: string,
    plan: BenchPlan,
    counters: PublisherCounters,
  ) {
    super(plan, index, counters)
    const payload = Buffer.alloc(plan.payloadSize, 0x61)
    this.packet = encodePublish(plan.protocolVersion, topic, payload, plan.qos as QoS, false, false, 1, undefined)
    const payloadAt = this.packet.length - payload.length
    const pidAt = payloadAt - (plan.protocolVersion === 5 ? 1 : 0) - 2
    this.piggyback = conn.ws && plan.wsFraming === 'piggyback'
    const header = conn.ws && !this.piggyback ? maskedHeaderSize(this.packet.length) : 0
    this.frameLen = header + this.packet.length
    this.stampAt = header + payloadAt
    this.pidAt = header + pidAt
    const framed = conn.ws && !this.piggyback
    this.stampMask = framed ? maskWord(conn.key, payloadAt) : 0
    this.pidMask = framed ? maskWord(conn.key, pidAt) >>> 16 : 0
    this.template = Buffer.allocUnsafe(this.frameLen * BATCH)
    for (let i = 0; i < BATCH; i++) {
      const at = i * this.frameLen
      if (framed) {
        const start = writeMaskedHeader(this.template, at, Opcode.Binary, this.packet.length, conn.key)
        this.packet.copy(this.template, start)
        mask(this.template, start, start + this.packet.length, start, conn.key, 0)
      } else {
        this.packet.copy(this.template, at)
      }
    }
    conn.handler = this
  }

  live(): boolean {
    return this.conn.connected
  }

  protected run(): void {
    if (this.waitingDrain) return
    const paced = this.plan.rate > 0
    const due = this.due()
    const limit = this.plan.count > 0 ? Math.min(due, this.plan.count) : due
    const qos = this.plan.qos
    let batches = 0
    while (!this.done() && this.seq < limit) {
      // Room left in the delivery window and the in-flight limit, in messages (each makes `fanout` deliveries).
      const open = windowRoom(this.counters, this.index, this.seq, paced)
      if (open <= 0) {
        if (!paced) this.counters.park(this) // a subscriber (or the stall timer) resumes us; paced, the next tick
        return
      }
      const room = qos > 0 ? qosWindow(this.counters) - this.outstanding : BATCH
      const k = Math.min(BATCH, room, open, limit - this.seq)
      if (k <= 0) return // acknowledgements resume us
      this.send(k)
      if (!paced) {
        if (this.conn.writableNeedDrain) {
          this.waitingDrain = true
          this.conn.socket.once('drain', this.onDrain)
          return
        }
        if (++batches === YIELD_BATCHES) {
          setImmediate(this.pump)
          return
        }
      }
    }
    if (this.done() && this.paceTimer) clearInterval(this.paceTimer)
  }

  /** k messages, one write. */
  private send(k: number): void {
    const now = process.hrtime.bigint()
    const hi = Number(now >> 32n) >>> 0
    const lo = Number(now & 0xffffffffn) >>> 0
    const frameLen = this.frameLen
    const out = this.piggyback ? this.piggybackBatch(k) : Buffer.allocUnsafe(k * frameLen)
    const base = this.piggyback ? out.length - k * frameLen : 0
    if (!this.piggyback) this.template.copy(out, 0, 0, k * frameLen)
    const m = this.stampMask
    const qos = this.plan.qos
    // The same publisher index and time in every message of the batch (masked once); the sequence number per message.
    const index = this.index ^ m
    const time0 = hi ^ m
    const time1 = lo ^ m
    for (let i = 0; i < k; i++) {
      const at = base + i * frameLen
      const s = at + this.stampAt
      put32(out, s, index)
      put32(out, s + 4, this.seq ^ m)
      put32(out, s + 8, time0)
      put32(out, s + 12, time1)
      if (qos > 0) {
        out.writeUInt16BE(this.nextPid ^ this.pidMask, at + this.pidAt)
        this.nextPid = this.nextPid === 0xffff ? 1 : this.nextPid + 1
      }
      this.seq++
    }
    if (this.piggyback) mask(out, base, out.length, base, this.conn.key, 0)
    this.counters.sent += k
    if (qos > 0) this.outstanding += k
    this.conn.write(out)
  }

  /** One frame for the whole batch (--ws-framing piggyback): header, then k plain packets. */
  private piggybackBatch(k: number): Buffer {
    const length = k * this.frameLen
    const out = Buffer.allocUnsafe(maskedHeaderSize(length) + length)
    const start = writeMaskedHeader(out, 0, Opcode.Binary, length, this.conn.key)
    this.template.copy(out, start, 0, length)
    return out
  }

  /** PUBACK (QoS 1), PUBREC then PUBCOMP (QoS 2). */
  onPacket(buf: Buffer, start: number, body: number, end: number): void {
    const type = buf[start] & 0xf0
    if (type === 0x50) {
      this.conn.sendAck(0x62, buf.readUInt16BE(body))
      return
    }
    if (type !== 0x40 && type !== 0x70) return
    this.outstanding--
    // MQTT 5 puts a reason code after the packet id when it is not success.
    if (end - body > 2 && buf[body + 2] >= 0x80) this.counters.pubErrors++
    else this.counters.acked++
    if (this.plan.rate === 0 && this.outstanding <= qosWindow(this.counters) / 2 && !this.waitingDrain) this.run()
  }
}

/** Writes the 32-bit value v big-endian at out[at] (byte stores: no bounds check per call as writeUInt32BE has). */
function put32(out: Buffer, at: number, v: number): void {
  out[at] = v >>> 24
  out[at + 1] = v >>> 16
  out[at + 2] = v >>> 8
  out[at + 3] = v
}
