/**
 * The bench's own wire: MQTT packet scanning and WebSocket frame parsing over every split
 * of the input, mask arithmetic, and WireConn/BatchPublisher/StampSubscriber against a
 * real broker over TCP and WS (the stamps must arrive intact through the masks).
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import {PacketScanner} from '../../../src/core/bench/wire/packet-scanner.js'
import {ServerFrameReader} from '../../../src/core/bench/wire/server-frame-reader.js'
import {Opcode, mask, maskWord, maskedFrame} from '../../../src/core/transport/ws-frame.js'
import {WireConn} from '../../../src/core/bench/wire/wire-conn.js'
import {BatchPublisher, BATCH} from '../../../src/core/bench/wire/batch-publisher.js'
import {StampSubscriber} from '../../../src/core/bench/wire/stamp-subscriber.js'
import {resolvePlan} from '../../../src/core/bench/plan.js'
import type {PublisherCounters} from '../../../src/core/bench/publisher.js'
import {stampPublisher, stampSeq} from '../../../src/core/bench/stamp.js'
import {encodePublish} from '../../../src/core/protocol/encode.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'

function scanAll(chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = []
  const s = new PacketScanner({onPacket: (buf, start, _body, end) => out.push(Buffer.from(buf.subarray(start, end)))})
  for (const c of chunks) s.feed(c, 0, c.length)
  return out
}

function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, len]) : Buffer.from([(fin ? 0x80 : 0) | opcode, 126, len >> 8, len & 0xff])
  return Buffer.concat([head, payload])
}

describe('bench wire', () => {
  describe('PacketScanner', () => {
    const packets = [
      encodePublish(4, 'a/b', Buffer.from('hello'), 0, false, false, 0, undefined),
      encodePublish(4, 't', Buffer.alloc(300, 7), 1, false, false, 9, undefined), // 2-byte remaining length
      Buffer.from([0x40, 0x02, 0x00, 0x09]),
      Buffer.from([0xd0, 0x00]),
    ]
    const stream = Buffer.concat(packets)

    it('finds every packet whole, in one chunk', () => {
      assert.deepEqual(scanAll([stream]), packets)
    })

    it('finds every packet across every two-way split', () => {
      for (let cut = 1; cut < stream.length; cut++) {
        assert.deepEqual(scanAll([stream.subarray(0, cut), stream.subarray(cut)]), packets, `cut at ${cut}`)
      }
    })

    it('finds every packet fed one byte at a time', () => {
      assert.deepEqual(scanAll([...stream].map((b) => Buffer.from([b]))), packets)
    })

    it('rejects a remaining length of more than four bytes', () => {
      assert.throws(() => scanAll([Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])]), /malformed remaining length/)
    })
  })

  describe('ServerFrameReader', () => {
    const data = [Buffer.from('first packet bytes'), Buffer.alloc(200, 3), Buffer.from('x')]
    const wire = Buffer.concat([
      serverFrame(0x2, data[0]),
      serverFrame(0x9, Buffer.from('pi')),
      serverFrame(0x2, data[1], false),
      serverFrame(0x0, data[2]),
      serverFrame(0x8, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65])),
    ])

    function read(chunks: Buffer[]): {data: Buffer; pings: string[]; close?: [number, string]} {
      const parts: Buffer[] = []
      const pings: string[] = []
      let close: [number, string] | undefined
      const r = new ServerFrameReader({
        onData: (buf, s, e) => parts.push(Buffer.from(buf.subarray(s, e))),
        onPing: (p) => pings.push(p.toString()),
        onClose: (code, reason) => (close = [code, reason]),
      })
      for (const c of chunks) r.feed(c)
      return {data: Buffer.concat(parts), pings, close}
    }

    it('passes data payloads in order, answers pings and reports the close, over every split', () => {
      for (let cut = 0; cut < wire.length; cut++) {
        const got = read(cut === 0 ? [wire] : [wire.subarray(0, cut), wire.subarray(cut)])
        assert.deepEqual(got.data, Buffer.concat(data), `cut at ${cut}`)
        assert.deepEqual(got.pings, ['pi'])
        assert.deepEqual(got.close, [1000, 'bye'])
      }
    })

    it('stops at a masked or a text frame from the server', () => {
      assert.equal(read([Buffer.from([0x82, 0x81, 1, 2, 3, 4, 5])]).close?.[0], 1002)
      assert.equal(read([serverFrame(0x1, Buffer.from('text'))]).close?.[0], 1003)
    })
  })

  describe('masks', () => {
    it('maskWord() (and its top half) is the XOR that mask() applies at that payload index', () => {
      const key = 0x11223344
      for (let i = 0; i < 8; i++) {
        const b = Buffer.alloc(8)
        mask(b, 0, 8, 0, key, 0)
        assert.equal(maskWord(key, i % 4), b.readUInt32BE(i % 4))
        assert.equal(maskWord(key, i % 4) >>> 16, b.readUInt16BE(i % 4))
      }
    })

    it('maskedFrame() makes a masked binary frame that unmasks to the packet', () => {
      const key = 0xdeadbeef
      const packet = Buffer.from([0xc0, 0x00])
      const f = maskedFrame(Opcode.Binary, packet, key)
      assert.equal(f[0], 0x82)
      assert.equal(f[1], 0x80 | 2)
      const payload = Buffer.from(f.subarray(6))
      mask(payload, 0, 2, 0, f.readUInt32BE(2), 0)
      assert.deepEqual(payload, packet)
    })
  })

  describe('against a broker', () => {
    let broker: TestBroker
    before(async () => {
      broker = await startBroker()
    })
    after(() => broker.close())

    for (const scheme of ['mqtt', 'ws', 'wss'] as const) {
      for (const qos of [0, 1, 2] as const) {
        it(`${scheme}: BatchPublisher's stamps arrive intact at a StampSubscriber, QoS ${qos}`, async () => {
          const url = broker.urls[scheme]
          const count = BATCH * 3 + 5
          const plan = resolvePlan({scenario: 'fan-in', transports: ['tcp'], publishers: 1, qos, count, topic: `wire/${scheme}/${qos}/%i`})
          const tls = {insecure: true}
          const sub = await WireConn.open({url, clientId: `wire-sub-${scheme}-${qos}`, protocolVersion: 4, tls})
          await sub.subscribe(`wire/${scheme}/${qos}/+`, qos)
          const seen: number[] = []
          let fromOther = 0
          sub.handler = new StampSubscriber(sub, 4, {
            deliver: (buf, start, end) => {
              assert.equal(end - start, plan.payloadSize)
              if (stampPublisher(buf, start) !== 3) fromOther++
              seen.push(stampSeq(buf, start))
            },
          })
          const conn = await WireConn.open({url, clientId: `wire-pub-${scheme}-${qos}`, protocolVersion: 4, tls})
          const counters: PublisherCounters = {sent: 0, pubErrors: 0, acked: 0, fanout: 0, window: 0, ahead: () => 0, park: () => {}, inflight: 0, inflightRoom: () => Infinity}
          const pub = new BatchPublisher(conn, 3, `wire/${scheme}/${qos}/3`, plan, counters)
          pub.start()
          const until = Date.now() + 5000
          while ((seen.length < count || (qos > 0 && counters.acked < count)) && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
          assert.equal(fromOther, 0)
          assert.deepEqual(seen, Array.from({length: count}, (_, i) => i))
          assert.equal(counters.sent, count)
          if (qos > 0) assert.equal(counters.acked, count)
          assert.equal(pub.outstanding, 0)
          await Promise.all([conn.end(), sub.end()])
        })
      }
    }

    it('MQTT 5: subscribes, and finds payloads past the property length, over ws', async () => {
      const url = broker.urls.ws
      const plan = resolvePlan({scenario: 'fan-in', transports: ['ws'], publishers: 1, qos: 1, count: 40, topic: 'wire/v5/%i', protocolVersion: 5})
      const sub = await WireConn.open({url, clientId: 'wire-sub-v5', protocolVersion: 5})
      assert.equal(await sub.subscribe('wire/v5/+', 1), 1)
      const seen: number[] = []
      sub.handler = new StampSubscriber(sub, 5, {deliver: (buf, start) => seen.push(stampSeq(buf, start))})
      const conn = await WireConn.open({url, clientId: 'wire-pub-v5', protocolVersion: 5})
      const counters: PublisherCounters = {sent: 0, pubErrors: 0, acked: 0, fanout: 0, window: 0, ahead: () => 0, park: () => {}, inflight: 0, inflightRoom: () => Infinity}
      new BatchPublisher(conn, 0, 'wire/v5/0', plan, counters).start()
      const until = Date.now() + 5000
      while ((seen.length < 40 || counters.acked < 40) && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
      assert.deepEqual(seen, Array.from({length: 40}, (_, i) => i))
      assert.equal(counters.acked, 40)
      await Promise.all([conn.end(), sub.end()])
    })

    it('says what to fix when the WebSocket path is wrong', async () => {
      const wrong = broker.urls.ws.replace('/mqtt', '/nope')
      await assert.rejects(WireConn.open({url: wrong, clientId: 'x', protocolVersion: 4}), /answered 404.*\/mqtt/)
    })

    it('points at the scheme when an mqtt:// URL reaches a WebSocket port', async () => {
      await assert.rejects(WireConn.open({url: `mqtt://127.0.0.1:${broker.ports.ws}`, clientId: 'x', protocolVersion: 4}), /before CONNACK.*ws:\/\/ for a WebSocket port/)
    })

    it('says the connection was refused on a closed port', async () => {
      const s = net.createServer()
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
      const port = (s.address() as net.AddressInfo).port
      await new Promise((r) => s.close(r))
      await assert.rejects(WireConn.open({url: `ws://127.0.0.1:${port}/mqtt`, clientId: 'x', protocolVersion: 4}), /connection refused/)
    })
  })
})
