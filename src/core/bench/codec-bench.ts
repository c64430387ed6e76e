/**
 * `mqttws bench codec`: micro-benchmarks of the packet and frame code on the hot path
 * (tinybench), so a change to the encoder or decoder shows its cost in ops/s.
 */
import {Bench} from 'tinybench'
import * as wsLib from 'ws'
import {Decoder} from '../protocol/codec.js'
import type {Packet} from '../protocol/codec.js'
import {encodePublish} from '../protocol/encode.js'

export interface CodecResult {
  name: string
  ops_per_s: number
  mean_ns: number
  p99_ns: number
  samples: number
}

// ws exports its frame codec at runtime, but @types/ws does not declare it.
interface FrameOptions {fin: boolean; mask: boolean; opcode: number; readOnly: boolean; rsv1: boolean}
const {Receiver, Sender} = wsLib as unknown as {
  Receiver: new (o: {binaryType: string; isServer: boolean}) => {on(ev: 'message', fn: () => void): void; write(b: Buffer): boolean}
  Sender: {frame(data: Buffer, o: FrameOptions): Buffer[]}
}

const noopSink = {onPacket: (_p: Packet) => {}, onDecodeError: () => {}, onPacketTooLarge: () => {}}

/** Runs each case for `timeMs` (default 300 ms) per payload size. */
export async function runCodecBench(sizes: readonly number[] = [16, 256, 4096, 65536], timeMs = 300): Promise<CodecResult[]> {
  const bench = new Bench({time: timeMs, warmup: true} as ConstructorParameters<typeof Bench>[0])
  for (const size of sizes) {
    const payload = Buffer.alloc(size, 0x61)
    const packet = encodePublish(4, 'bench/topic/1', payload, 0, false, false, 0, undefined)
    const decoder = new Decoder(noopSink, 1 << 28, 4)
    const frameHeader = size < 126 ? 2 : size < 65536 ? 4 : 10
    const frame = Buffer.concat(Sender.frame(packet, {fin: true, mask: false, opcode: 2, readOnly: false, rsv1: false}))
    const receiver = new Receiver({binaryType: 'nodebuffer', isServer: false})
    receiver.on('message', () => {})
    bench
      .add(`encode PUBLISH ${size} B`, () => {
        encodePublish(4, 'bench/topic/1', payload, 0, false, false, 0, undefined)
      })
      .add(`decode PUBLISH ${size} B`, () => {
        decoder.write(packet)
      })
      .add(`WS frame wrap ${size} B (+${frameHeader})`, () => {
        Sender.frame(packet, {fin: true, mask: false, opcode: 2, readOnly: false, rsv1: false})
      })
      .add(`WS frame unwrap ${size} B`, () => {
        receiver.write(frame)
      })
  }
  await bench.run()
  return bench.tasks.map((t) => {
    const r = t.result as unknown as {state: string; throughput?: {mean: number}; latency?: {mean: number; p99: number; samplesCount?: number}}
    return {
      name: t.name,
      ops_per_s: Math.round(r.throughput?.mean ?? 0),
      mean_ns: Math.round((r.latency?.mean ?? 0) * 1e6),
      p99_ns: Math.round((r.latency?.p99 ?? 0) * 1e6),
      samples: r.latency?.samplesCount ?? 0,
    }
  })
}
