/**
 * MQTT 5 outbound topic aliases: a client whose CONNECT allows them gets each topic once,
 * then its alias with an empty topic; when its aliases run out the least recently used one
 * is given to the next topic (sent with the topic again). MQTT.js resolves them back into
 * the topics published; a client that allows none gets plain topics; aliases start over on a
 * new connection; the bytes saved are counted.
 */
import assert from 'node:assert/strict'
import type {IPublishPacket, MqttClient} from 'mqtt'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import mqtt from 'mqtt'
import {connectMqttJs, nextMessages, testClientOptions} from '../../helpers/mqttjs.js'

/** PUBLISH packets as they came off the wire: topic and alias (before MQTT.js resolves the alias). */
function wire(client: MqttClient): Array<[string, number | undefined]> {
  const seen: Array<[string, number | undefined]> = []
  client.on('packetreceive', (p) => {
    if (p.cmd === 'publish') seen.push([(p as IPublishPacket).topic, (p as IPublishPacket).properties?.topicAlias])
  })
  return seen
}

describe('broker: MQTT 5 outbound topic aliases', function () {
  this.timeout(20_000)
  let tb: TestBroker
  before(async () => {
    tb = await startBroker({})
  })
  after(() => tb?.close())

  const ONE = 'ta/a/rather/long/topic/name/one'
  const sequence = [ONE, ONE, 'ta/two', 'ta/three', ONE]

  for (const scheme of ['mqtt', 'ws'] as const) {
    it(`${scheme}: assigns aliases, leaves known topics out, reuses the least recently used alias`, async () => {
      const before = tb.broker.metrics.topicAliasBytesSaved
      const sub = await connectMqttJs(tb.urls[scheme], {protocolVersion: 5, properties: {topicAliasMaximum: 2}})
      const plain = await connectMqttJs(tb.urls[scheme], {protocolVersion: 5})
      const pub = await connectMqttJs(tb.urls.mqtt, {protocolVersion: 5})
      try {
        const seen = wire(sub)
        const plainSeen = wire(plain)
        await sub.subscribeAsync('ta/#', {qos: 1})
        await plain.subscribeAsync('ta/#', {qos: 0})
        const got = nextMessages(sub, sequence.length)
        const gotPlain = nextMessages(plain, sequence.length)
        for (const [i, topic] of sequence.entries()) await pub.publishAsync(topic, `m${i}`, {qos: i % 2 === 0 ? 1 : 0})
        assert.deepEqual((await got).map((m) => [m.topic, m.payload.toString()]), sequence.map((t, i) => [t, `m${i}`]))
        assert.deepEqual(seen, [
          [ONE, 1],
          ['', 1],
          ['ta/two', 2],
          ['ta/three', 1], // ONE was used least recently: its alias goes to ta/three
          [ONE, 2], // and ta/two's to ONE, which is sent with its topic again
        ])
        await gotPlain
        assert.deepEqual(plainSeen, sequence.map((t) => [t, undefined]))
        assert.equal(tb.broker.metrics.topicAliasBytesSaved - before, Buffer.byteLength(ONE))
      } finally {
        sub.end(true)
        plain.end(true)
        pub.end(true)
      }
    })
  }

  it('starts over on a new connection: a resumed session gets its queued message with the topic', async () => {
    const opts = {protocolVersion: 5 as const, clientId: 'alias-resume', clean: false, properties: {topicAliasMaximum: 4, sessionExpiryInterval: 60}}
    const sub = await connectMqttJs(tb.urls.mqtt, opts)
    const pub = await connectMqttJs(tb.urls.mqtt, {protocolVersion: 5})
    try {
      await sub.subscribeAsync('tr/#', {qos: 1})
      const first = nextMessages(sub, 1)
      await pub.publishAsync('tr/x', 'a', {qos: 1})
      await first
      sub.end(true)
      await new Promise((r) => setTimeout(r, 200))
      await pub.publishAsync('tr/x', 'b', {qos: 1})
      // Listen before the CONNACK: the queued message follows it at once.
      const again = mqtt.connect(tb.urls.mqtt, await testClientOptions(tb.urls.mqtt, opts))
      const seen = wire(again)
      const got = await nextMessages(again, 1).catch(() => [])
      again.end(true)
      assert.deepEqual(got.map((m) => m.payload.toString()), ['b'])
      assert.deepEqual(seen, [['tr/x', 1]])
    } finally {
      pub.end(true)
    }
  })
})
