/** bench --selftest's relay: connectable, subscribable, and it forwards every QoS 0 PUBLISH intact, over TCP and WS. */
import assert from 'node:assert/strict'
import {MqttClient} from '../../../src/core/client/client.js'
import {startRelay} from '../../../src/core/bench/relay.js'
import type {RunningRelay} from '../../../src/core/bench/relay.js'
import {resolvePlan} from '../../../src/core/bench/plan.js'
import type {PublisherCounters} from '../../../src/core/bench/publisher.js'
import {stampSeq} from '../../../src/core/bench/stamp.js'
import {BatchPublisher} from '../../../src/core/bench/wire/batch-publisher.js'
import {StampSubscriber} from '../../../src/core/bench/wire/stamp-subscriber.js'
import {WireConn} from '../../../src/core/bench/wire/wire-conn.js'

describe('bench selftest relay', () => {
  let relay: RunningRelay
  before(async () => {
    relay = await startRelay()
  })
  after(() => relay.close())

  for (const t of ['tcp', 'ws'] as const) {
    it(`${t}: forwards 40,000 messages from two publishers, in order per publisher (several output slabs)`, async () => {
      const url = relay.urls[t]
      const plan = resolvePlan({scenario: 'fan-in', transports: [t], publishers: 2, qos: 0, count: 20_000})
      const sub = await WireConn.open({url, clientId: `relay-sub-${t}`, protocolVersion: 4})
      await sub.subscribe('mqttws/bench/+', 0)
      const seen: number[][] = [[], []]
      sub.handler = new StampSubscriber(sub, 4, {deliver: (buf, start) => seen[buf.readUInt32BE(start)].push(stampSeq(buf, start))})
      const counters: PublisherCounters = {sent: 0, pubErrors: 0, acked: 0, fanout: 0, window: 0, ahead: () => 0, park: () => {}, inflight: 0, inflightRoom: () => Infinity}
      const pubs = await Promise.all([0, 1].map((i) => WireConn.open({url, clientId: `relay-pub-${t}-${i}`, protocolVersion: 4})))
      pubs.forEach((c, i) => new BatchPublisher(c, i, `mqttws/bench/${i}`, plan, counters).start())
      const until = Date.now() + 15_000
      while (seen[0].length + seen[1].length < 40_000 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
      const expected = Array.from({length: 20_000}, (_, i) => i)
      assert.deepEqual(seen, [expected, expected])
      await Promise.all([sub.end(), ...pubs.map((c) => c.end())])
    })
  }
})

describe('bench selftest relay: packet sizes', () => {
  let relay: RunningRelay
  before(async () => {
    relay = await startRelay()
  })
  after(() => relay.close())

  // Payload sizes for PUBLISH packets (12 bytes more, with a 2-digit topic) copied byte by byte
  // (up to 64 bytes) or by Buffer.copy, in WebSocket frames with a 2-, 4- and 10-byte header.
  const sizes = [0, 1, 52, 53, 113, 114, 200, 1000, 65_000, 70_000]
  for (const t of ['tcp', 'ws'] as const) {
    it(`${t}: forwards PUBLISH packets of every size intact, alone and back to back`, async () => {
      const url = relay.urls[t]
      const sub = await MqttClient.connect({url, protocolVersion: 4, clientId: `sizes-sub-${t}`})
      const pub = await MqttClient.connect({url, protocolVersion: 4, clientId: `sizes-pub-${t}`})
      try {
        await sub.subscribe([{topic: 'sizes/#', qos: 0}])
        const got: Buffer[] = []
        sub.on('message', (p) => got.push(Buffer.from(p.payload as Buffer)))
        const sent = sizes.map((n, i) => Buffer.alloc(n, i + 1))
        // One at a time (each forwarded alone), then all in one turn (one run of packets).
        for (const [i, payload] of sent.entries()) {
          pub.publish(`sizes/${String(i).padStart(2, '0')}`, payload)
          const until = Date.now() + 5000
          while (got.length <= i && Date.now() < until) await new Promise((r) => setTimeout(r, 5))
        }
        for (const [i, payload] of sent.entries()) pub.publish(`sizes/${String(i).padStart(2, '0')}`, payload)
        const until = Date.now() + 10_000
        while (got.length < 2 * sent.length && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
        assert.deepEqual(got, [...sent, ...sent])
      } finally {
        await Promise.all([sub.end(), pub.end()])
      }
    })
  }
})
