/**
 * Broker contract, MQTT 5 features over TCP and WebSocket: session expiry at DISCONNECT,
 * Will Delay, Server Keep Alive, Receive Maximum and Maximum Packet Size in both
 * directions, topic aliases, message expiry, No Local, request problem / response
 * information, 0x10 No matching subscribers, and the QoS / retain caps. MQTT.js v5 is the
 * independent client; raw wires check exact bytes.
 */
import assert from 'node:assert/strict'
import type {IClientOptions} from 'mqtt'
import {DEFAULTS} from '../../src/core/config.js'
import type {Scheme} from '../../src/core/config.js'
import {RESPONSE_PREFIX} from '../../src/core/broker/handlers/connect.js'
import {startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'
import {
  Tracker,
  brokerClosed,
  connectPacket,
  connectWire,
  expectViolation,
  openJs,
  openWire,
  rawPublish,
  rawSubscribe,
  settle,
  uid,
  useSuiteBroker,
  withBroker,
} from '../helpers/contract.js'
import type {JsClient} from '../helpers/contract.js'
import {delay} from '../helpers/mqttjs.js'
import {hex} from '../helpers/raw.js'

const SCHEMES: readonly Scheme[] = ['mqtt', 'ws']
const PINGREQ = hex('c0 00')

for (const scheme of SCHEMES) {
  describe(`MQTT 5 over ${scheme}`, function () {
    const suite = useSuiteBroker()
    const {t} = suite
    const js = (o: IClientOptions = {}): Promise<JsClient> => openJs(t, suite.tb.urls[scheme], {clientId: uid(), protocolVersion: 5, ...o})
    describe('CONNACK', function () {
      it('announces the broker limits and features', async function () {
        const c = await js()
        const p = c.connack.properties ?? {}
        assert.equal(p.receiveMaximum, 100)
        assert.equal(p.maximumPacketSize, DEFAULTS.limits.maxPacketSize)
        assert.equal(p.topicAliasMaximum, 10)
        assert.equal(p.retainAvailable, true)
        assert.equal(p.maximumQoS, undefined, 'absent means QoS 2')
        assert.equal(p.sharedSubscriptionAvailable, true)
        assert.equal(p.subscriptionIdentifiersAvailable, true)
        assert.equal(p.wildcardSubscriptionAvailable, true)
        assert.equal(p.serverKeepAlive, undefined)
        assert.equal(p.responseInformation, undefined, 'sent only to a client that asks')
      })

      it('sends Response Information to a client that asks for it (Request Response Information 1)', async function () {
        const id = uid()
        const c = await js({clientId: id, properties: {requestResponseInformation: true}})
        assert.equal(c.connack.properties?.responseInformation, `${RESPONSE_PREFIX}${id}`)
      })

      it('caps the keepalive with Server Keep Alive, and the session expiry with its own, when limits say so', async function () {
        await withBroker(t, {limits: {maxKeepalive: 5, maxSessionExpiry: 60}}, async (b) => {
          const long = await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5, keepalive: 60, clean: false, properties: {sessionExpiryInterval: 300}})
          assert.equal(long.connack.properties?.serverKeepAlive, 5)
          assert.equal(long.connack.properties?.sessionExpiryInterval, 60)
          const none = await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5, keepalive: 0})
          assert.equal(none.connack.properties?.serverKeepAlive, 5, 'keepalive 0 is also capped')
          const short = await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5, keepalive: 3, properties: {sessionExpiryInterval: 30}})
          assert.equal(short.connack.properties?.serverKeepAlive, undefined)
          assert.equal(short.connack.properties?.sessionExpiryInterval, undefined)
          // 3.1.1 cannot be told: refused with return code 2, as Mosquitto does.
          const w = await openWire(t, b, scheme, 4)
          w.send(connectPacket(4, {keepalive: 60}))
          assert.equal((await w.expect('connack')).raw.toString('hex'), '20020002')
          await w.closed()
          await connectWire(t, b, scheme, 4, {keepalive: 5})
        })
      })

      it('announces Maximum QoS 1 and Retain Available 0 when capped, and grants at most QoS 1', async function () {
        await withBroker(t, {limits: {maxQos: 1, retainAvailable: false}}, async (b) => {
          const c = await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5})
          assert.equal(c.connack.properties?.maximumQoS, 1)
          assert.equal(c.connack.properties?.retainAvailable, false)
          const {wire} = await connectWire(t, b, scheme, 5)
          assert.deepEqual(await rawSubscribe(wire, [{topic: uid('q'), qos: 2}, {topic: uid('q'), qos: 0}]), [1, 0])
        })
      })
    })

    describe('session expiry at DISCONNECT', function () {
      it('DISCONNECT with Session Expiry Interval 0 ends a session that CONNECT asked to keep', async function () {
        const id = uid()
        const opts = {clientId: id, clean: false, properties: {sessionExpiryInterval: 300}}
        const first = await js(opts)
        await first.client.subscribeAsync(uid('t'), {qos: 1})
        const gone = brokerClosed(suite.tb.broker, id)
        await first.client.endAsync(false, {reasonCode: 0, properties: {sessionExpiryInterval: 0}})
        await gone
        const back = await js(opts)
        assert.equal(back.connack.sessionPresent, false)
      })

      it('DISCONNECT may shorten or lengthen a kept session; the session is there on return', async function () {
        const id = uid()
        const opts = {clientId: id, clean: false, properties: {sessionExpiryInterval: 1}}
        const first = await js(opts)
        const gone = brokerClosed(suite.tb.broker, id)
        await first.client.endAsync(false, {reasonCode: 0, properties: {sessionExpiryInterval: 600}})
        await gone
        assert.equal(suite.tb.broker.sessionState(id)?.expiryInterval, 600)
        const back = await js(opts)
        assert.equal(back.connack.sessionPresent, true)
      })

      it('DISCONNECT setting an expiry on a session that ends with the connection → DISCONNECT 0x82', async function () {
        const {wire} = await connectWire(t, suite.tb, scheme, 5, {clean: false})
        wire.send({cmd: 'disconnect', reasonCode: 0, properties: {sessionExpiryInterval: 30}})
        await expectViolation(wire, 0x82)
      })
    })

    describe('Receive Maximum', function () {
      it('never has more QoS 1 messages in flight to a client than its Receive Maximum', async function () {
        const topic = uid('rm')
        const {wire: sub} = await connectWire(t, suite.tb, scheme, 5, {properties: {receiveMaximum: 2}})
        assert.deepEqual(await rawSubscribe(sub, [{topic, qos: 1}]), [1])
        const pub = await js()
        for (let i = 1; i <= 5; i++) await pub.client.publishAsync(topic, `m${i}`, {qos: 1})
        const a = await sub.expect('publish')
        const b = await sub.expect('publish')
        assert.deepEqual([a.payload.toString(), b.payload.toString()], ['m1', 'm2'])
        sub.send(PINGREQ)
        assert.equal((await sub.next()).packet.cmd, 'pingresp', 'a third message was sent before an acknowledgement')
        sub.send({cmd: 'puback', messageId: a.messageId!})
        assert.equal((await sub.expect('publish')).payload.toString(), 'm3')
      })

      it('closes a client with more unreleased QoS 2 messages than the broker announced: DISCONNECT 0x93', async function () {
        await withBroker(t, {limits: {receiveMaximum: 2}}, async (b) => {
          const {wire, connack} = await connectWire(t, b, scheme, 5)
          assert.equal(connack.properties?.receiveMaximum, 2)
          wire.send(rawPublish(5, {topic: 'rm', qos: 2, id: 1}))
          wire.send(rawPublish(5, {topic: 'rm', qos: 2, id: 2}))
          await wire.expect('pubrec')
          await wire.expect('pubrec')
          // Releasing one makes room: no violation.
          wire.send(hex('62 02 00 01'))
          await wire.expect('pubcomp')
          wire.send(rawPublish(5, {topic: 'rm', qos: 2, id: 3}))
          await wire.expect('pubrec')
          wire.send(rawPublish(5, {topic: 'rm', qos: 2, id: 4}))
          await expectViolation(wire, 0x93)
        })
      })
    })

    describe('Maximum Packet Size', function () {
      it('never sends a client a PUBLISH larger than its Maximum Packet Size; a too-large QoS 1 message does not hold its window', async function () {
        const topic = uid('mps')
        const {wire: sub} = await connectWire(t, suite.tb, scheme, 5, {properties: {maximumPacketSize: 100, receiveMaximum: 1}})
        assert.deepEqual(await rawSubscribe(sub, [{topic, qos: 1}]), [1])
        const pub = await js()
        const before = suite.tb.broker.metrics.tooLargeDropped
        await pub.client.publishAsync(topic, Buffer.alloc(200, 0x61), {qos: 1})
        await pub.client.publishAsync(topic, Buffer.alloc(200, 0x62), {qos: 0})
        await pub.client.publishAsync(topic, 'small', {qos: 1})
        const got = await sub.expect('publish')
        assert.equal(got.payload.toString(), 'small')
        assert.ok(got.raw.length <= 100)
        assert.equal(suite.tb.broker.metrics.tooLargeDropped - before, 2)
      })

      it('drops the Reason String from a DISCONNECT that would exceed the Maximum Packet Size', async function () {
        const {wire} = await connectWire(t, suite.tb, scheme, 5, {properties: {maximumPacketSize: 10}})
        wire.send(connectPacket(5))
        const d = await wire.expect('disconnect')
        assert.equal(d.raw.toString('hex'), 'e0028200')
        await wire.closed()
      })

      it('sends the Reason String when it fits, and none after Request Problem Information 0', async function () {
        const {wire} = await connectWire(t, suite.tb, scheme, 5)
        wire.send(connectPacket(5))
        const d = await wire.expect('disconnect')
        assert.match(String(d.properties?.reasonString), /second CONNECT/)
        const {wire: quiet} = await connectWire(t, suite.tb, scheme, 5, {properties: {requestProblemInformation: false}})
        quiet.send(connectPacket(5))
        assert.equal((await quiet.expect('disconnect')).raw.toString('hex'), 'e0028200')
      })
    })

    describe('topic aliases', function () {
      it('a PUBLISH with a topic and an alias sets it; one with an empty topic uses it; subscribers see the topic, not the alias', async function () {
        const topic = uid('alias')
        const sub = await js()
        await sub.client.subscribeAsync(topic, {qos: 1})
        const {wire: pub} = await connectWire(t, suite.tb, scheme, 5)
        pub.send(rawPublish(5, {topic, payload: 'one', qos: 1, id: 1, props: hex('23 00 07')}))
        await pub.expect('puback')
        pub.send(rawPublish(5, {topic: '', payload: 'two', qos: 1, id: 2, props: hex('23 00 07')}))
        await pub.expect('puback')
        const got = await sub.inbox.take(2)
        assert.deepEqual(
          got.map((m) => [m.topic, m.payload.toString(), m.packet.properties?.topicAlias]),
          [
            [topic, 'one', undefined],
            [topic, 'two', undefined],
          ],
        )
      })

      it('MQTT.js assigning aliases on its own (autoAssignTopicAlias) is understood', async function () {
        const topics = [uid('aa'), uid('ab')]
        const sub = await js()
        await sub.client.subscribeAsync(topics, {qos: 1})
        const pub = await js({autoAssignTopicAlias: true})
        for (let i = 0; i < 3; i++) for (const topic of topics) await pub.client.publishAsync(topic, `${topic} ${i}`, {qos: 1})
        const got = await sub.inbox.take(6)
        for (const m of got) assert.equal(m.payload.toString().split(' ')[0], m.topic)
      })
    })

    describe('No Local and No matching subscribers', function () {
      it('No Local: a client does not get its own messages on that subscription, but gets others’', async function () {
        const topic = uid('nl')
        const a = await js()
        await a.client.subscribeAsync(topic, {qos: 1, nl: true})
        const b = await js()
        await a.client.publishAsync(topic, 'own', {qos: 1})
        await b.client.publishAsync(topic, 'other', {qos: 1})
        assert.equal((await a.inbox.one()).payload.toString(), 'other')
      })

      it('PUBACK and PUBREC carry 0x10 when nobody subscribes, 0x00 when somebody does', async function () {
        const topic = uid('nm')
        const {wire} = await connectWire(t, suite.tb, scheme, 5)
        wire.send(rawPublish(5, {topic, qos: 1, id: 1}))
        assert.equal((await wire.next()).raw.toString('hex'), '4003000110')
        wire.send(rawPublish(5, {topic, qos: 2, id: 2}))
        assert.equal((await wire.next()).raw.toString('hex'), '5003000210')
        const sub = await js()
        await sub.client.subscribeAsync(topic, {qos: 0})
        wire.send(rawPublish(5, {topic, qos: 1, id: 3}))
        assert.equal((await wire.next()).raw.toString('hex'), '40020003')
      })
    })
  })
}

/**
 * Will Delay, Server Keep Alive and Message Expiry need real seconds: every scenario starts
 * at once in before(), and each test reports its own.
 */
describe('MQTT 5 timers: Will Delay, Server Keep Alive, Message Expiry', function () {
  let tb: TestBroker
  let capped: TestBroker
  const t = new Tracker()
  const outcomes = new Map<string, Promise<Error | undefined>>()
  const js = (b: TestBroker, scheme: Scheme, o: IClientOptions = {}): Promise<JsClient> => openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5, ...o})

  async function watcher(scheme: Scheme, topic: string): Promise<JsClient> {
    const w = await js(tb, scheme)
    await w.client.subscribeAsync(topic, {qos: 1})
    return w
  }

  const willOpts = (topic: string, delaySeconds: number, expiry: number): IClientOptions => ({
    clean: false,
    properties: {sessionExpiryInterval: expiry},
    will: {topic, payload: Buffer.from('gone'), qos: 1, retain: false, properties: {willDelayInterval: delaySeconds}},
  })

  /**
   * A watcher subscribed to a new topic, and a client with a Will 'gone' on it (Will Delay
   * and session expiry as given) whose connection drops; resolves once the broker closed it.
   */
  async function droppedWithWill(scheme: Scheme, prefix: string, delaySeconds: number, expiry: number): Promise<{w: JsClient; id: string; topic: string}> {
    const topic = uid(prefix)
    const w = await watcher(scheme, topic)
    const id = uid()
    const a = await js(tb, scheme, {clientId: id, ...willOpts(topic, delaySeconds, expiry)})
    const gone = brokerClosed(tb.broker, id)
    a.client.stream.destroy()
    await gone
    return {w, id, topic}
  }

  /** A Will with a 1 s delay is published after the delay, not when the connection drops. */
  async function willDelayed(scheme: Scheme): Promise<void> {
    const {w, topic} = await droppedWithWill(scheme, 'wd', 1, 60)
    await w.client.publishAsync(topic, 'marker', {qos: 1})
    assert.deepEqual(
      (await w.inbox.take(2, 4000)).map((m) => m.payload.toString()),
      ['marker', 'gone'],
      'the Will came after the marker, that is, after its delay',
    )
  }

  /** A client that comes back (clean start 0) within the Will Delay cancels its Will. */
  async function willCancelled(scheme: Scheme): Promise<void> {
    const {w, id, topic} = await droppedWithWill(scheme, 'wc', 1, 60)
    const back = await js(tb, scheme, {clientId: id, clean: false, properties: {sessionExpiryInterval: 60}})
    assert.equal(back.connack.sessionPresent, true)
    await delay(1300)
    await w.client.publishAsync(topic, 'marker', {qos: 1})
    assert.equal((await w.inbox.one()).payload.toString(), 'marker', 'the Will was published although the client came back in time')
  }

  /** Coming back with clean start 1 ends the session, so the delayed Will is published at once. */
  async function willOnCleanStart(scheme: Scheme): Promise<void> {
    const {w, id, topic} = await droppedWithWill(scheme, 'wn', 30, 60)
    await js(tb, scheme, {clientId: id, clean: true})
    await w.client.publishAsync(topic, 'marker', {qos: 1})
    assert.deepEqual(
      (await w.inbox.take(2)).map((m) => m.payload.toString()),
      ['gone', 'marker'],
    )
  }

  /** A session that ends with the connection publishes the Will at once, whatever its delay. */
  async function willSessionEnds(scheme: Scheme): Promise<void> {
    const {w, topic} = await droppedWithWill(scheme, 'we', 30, 0)
    await w.client.publishAsync(topic, 'marker', {qos: 1})
    assert.deepEqual(
      (await w.inbox.take(2)).map((m) => m.payload.toString()),
      ['gone', 'marker'],
    )
  }

  /** A client that asked for keepalive 60 but got Server Keep Alive 1 is closed when silent for 1.5 s (0x8D). */
  async function serverKeepAlive(scheme: Scheme): Promise<void> {
    const {wire, connack} = await connectWire(t, capped, scheme, 5, {keepalive: 60})
    assert.equal(connack.properties?.serverKeepAlive, 1)
    const d = await wire.expect('disconnect', 4000)
    assert.equal(d.reasonCode, 0x8d)
    await wire.closed()
  }

  /**
   * Message Expiry: queued messages for an offline session, and retained messages, are not
   * delivered once expired, and are delivered with the time left otherwise.
   */
  async function messageExpiry(scheme: Scheme): Promise<void> {
    const id = uid()
    const topic = uid('me')
    const opts = {clientId: id, clean: false, properties: {sessionExpiryInterval: 60}}
    const sub = await js(tb, scheme, opts)
    await sub.client.subscribeAsync(`${topic}/#`, {qos: 1})
    const gone = brokerClosed(tb.broker, id)
    await sub.client.endAsync()
    await gone
    const pub = await js(tb, scheme)
    await pub.client.publishAsync(`${topic}/q`, 'short', {qos: 1, properties: {messageExpiryInterval: 1}})
    await pub.client.publishAsync(`${topic}/q`, 'long', {qos: 1, properties: {messageExpiryInterval: 100}})
    await pub.client.publishAsync(`${topic}/r/short`, 'retained short', {qos: 1, retain: true, properties: {messageExpiryInterval: 1}})
    await pub.client.publishAsync(`${topic}/r/long`, 'retained long', {qos: 1, retain: true, properties: {messageExpiryInterval: 100}})
    const live = await js(tb, scheme)
    await live.client.subscribeAsync(`${topic}/live`, {qos: 1})
    await pub.client.publishAsync(`${topic}/live`, 'live', {qos: 1, properties: {messageExpiryInterval: 100}})
    assert.equal((await live.inbox.one()).packet.properties?.messageExpiryInterval, 100, 'a message delivered at once keeps its interval')
    await delay(1200)
    const back = await js(tb, scheme, opts)
    const queued = await back.inbox.one()
    assert.equal(queued.payload.toString(), 'long', 'the expired queued message was delivered')
    const left = queued.packet.properties?.messageExpiryInterval ?? 0
    assert.ok(left < 100 && left >= 90, `the queued message carries the time left (${left})`)
    const late = await js(tb, scheme)
    await late.client.subscribeAsync(`${topic}/r/+`, {qos: 1})
    const retained = await late.inbox.one()
    assert.equal(retained.payload.toString(), 'retained long', 'the expired retained message was delivered')
    const leftR = retained.packet.properties?.messageExpiryInterval ?? 0
    assert.ok(leftR < 100 && leftR >= 90, `the retained message carries the time left (${leftR})`)
    await pub.client.publishAsync(`${topic}/r/x`, 'marker', {qos: 1})
    assert.equal((await late.inbox.one()).payload.toString(), 'marker')
  }

  const SCENARIOS: Array<[string, (s: Scheme) => Promise<void>]> = [
    ['publishes a Will with a Will Delay Interval after the delay, not at the drop', willDelayed],
    ['cancels a delayed Will when the client comes back in time (clean start 0)', willCancelled],
    ['publishes a delayed Will at once when the client comes back with clean start 1 (the session ends)', willOnCleanStart],
    ['publishes a delayed Will at once when the session ends with the connection', willSessionEnds],
    ['closes a client silent for 1.5 × Server Keep Alive (DISCONNECT 0x8D)', serverKeepAlive],
    ['does not deliver expired queued or retained messages, and forwards the time left of the others', messageExpiry],
  ]

  before(async () => {
    tb = await startBroker()
    capped = await startBroker({limits: {maxKeepalive: 1}})
    for (const scheme of SCHEMES) for (const [name, fn] of SCENARIOS) outcomes.set(`${scheme} ${name}`, settle(fn(scheme)))
  })
  after(async () => {
    await Promise.all(outcomes.values())
    t.closeAll()
    await Promise.all([tb?.close(), capped?.close()])
  })

  for (const scheme of SCHEMES) {
    for (const [name] of SCENARIOS) {
      it(`over ${scheme}: ${name}`, async function () {
        const error = await outcomes.get(`${scheme} ${name}`)
        if (error) throw error
      })
    }
  }
})
