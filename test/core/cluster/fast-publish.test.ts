import assert from 'node:assert/strict'
import {decodeEnvelope, encodeEnvelope} from '../../../src/core/cluster/envelope.js'
import type {EnvelopeMeta} from '../../../src/core/cluster/envelope.js'
import {CorePublisher} from '../../../src/core/cluster/fast-publish.js'
import type {Message} from '../../../src/core/broker/message.js'
import {MAX_SUBJECT_BYTES} from '../../../src/core/cluster/subjects.js'
import {collect, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

const origin = Buffer.from('node-a~abc123')

describe('cluster: QoS 0 messages as whole PUB frames (fast-publish.ts)', function () {
  this.timeout(60_000)

  it('frames an envelope as NATS\u2019s PUB: the head, the length, CRLF, the envelope, CRLF', () => {
    const head = Buffer.from('PUB mqttws.c.m.a.b ')
    // Lengths of 1 to 7 digits.
    for (const n of [0, 1, 5, 80, 90, 981, 990, 9_000, 99_970, 999_970, 1_000_000]) {
      const m: Message = {cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(n, 0x61), qos: 0, retain: false, dup: false}
      const plain = encodeEnvelope(m, origin, 42, false, 0)
      const frame = encodeEnvelope(m, origin, 42, false, 0, head)
      const line = `PUB mqttws.c.m.a.b ${plain.length}\r\n`
      assert.equal(frame.subarray(0, line.length).toString('latin1'), line, `payload of ${n} bytes`)
      assert.deepEqual(frame.subarray(line.length, line.length + plain.length), plain)
      assert.equal(frame.subarray(line.length + plain.length).toString('latin1'), '\r\n')
      assert.equal(frame.length, line.length + plain.length + 2)
      const meta: EnvelopeMeta = {origin: '', seq: 0}
      assert.equal(decodeEnvelope(frame.subarray(line.length, line.length + plain.length), 'a/b', meta, 0)?.payload.length, n)
    }
  })

  describe('between two nodes', () => {
    const cluster = useCluster(['node-a', 'node-b'])
    let a: ClusterNode
    let b: ClusterNode
    before(() => ([a, b] = cluster.nodes))

    it('uses the fast path with the nats.js installed (a nats.js without it falls back to nc.publish)', () => {
      const core = (a.bus as unknown as {core: CorePublisher}).core
      assert.ok(core instanceof CorePublisher)
      assert.equal(core.fast, true)
    })

    it('delivers QoS 0 messages of every size and shape: properties, expiry, large payloads, topics too long for a subject', async () => {
      const pub = await cluster.client(a.urls.mqtt, {protocolVersion: 5})
      const sub = await cluster.client(b.urls.mqtt, {protocolVersion: 5})
      const got = collect(sub)
      const long = 'l/' + 'x'.repeat(MAX_SUBJECT_BYTES)
      await sub.subscribeAsync(['f/#', 'l/#'], {qos: 0})
      const sizes = [0, 7, 100, 10_000, 500_000]
      for (const n of sizes) pub.publish(`f/${n}`, Buffer.alloc(n, 0x62), {qos: 0, properties: {userProperties: {size: String(n)}, messageExpiryInterval: 60, contentType: 'x/y'}})
      pub.publish(long, 'long topic', {qos: 0})
      pub.publish('f/end', 'end', {qos: 0})
      await until(() => got.some((m) => m.topic === 'f/end'), 'the last message')
      assert.deepEqual(
        got.map((m) => [m.topic.slice(0, 12), m.payload.length]),
        [...sizes.map((n) => [`f/${n}`, n]), [long.slice(0, 12), 10], ['f/end', 3]],
      )
      assert.equal(got.find((m) => m.topic === long)?.topic, long)
      for (const m of got.slice(0, sizes.length)) {
        assert.deepEqual({...(m.packet.properties?.userProperties as object)}, {size: m.topic.slice(2)})
        assert.equal(m.packet.properties?.contentType, 'x/y')
        assert.ok(Number(m.packet.properties?.messageExpiryInterval) > 0)
      }
    })
  })
})
