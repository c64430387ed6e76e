/**
 * Broker contract, shared subscriptions ($share/GROUP/FILTER and $queue/FILTER): each
 * message goes to exactly one member of each group, members on different transports and
 * protocol versions; strategies round-robin (default), random and sticky; unacknowledged
 * messages of a member that leaves go to another member; no retained messages; No Local
 * on a shared subscription is a protocol error.
 */
import assert from 'node:assert/strict'
import type {IClientOptions} from 'mqtt'
import type {Scheme, SharedStrategy} from '../../src/core/config.js'
import {startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'
import {brokerClosed, connectWire, expectViolation, openJs, rawPublish, rawSubscribe, uid, useSuiteBroker, versionOptions} from '../helpers/contract.js'
import type {JsClient, Version} from '../helpers/contract.js'
import {hex} from '../helpers/raw.js'

const PINGREQ = hex('c0 00')

/** Members over TCP and WebSocket, MQTT 5 and 3.1.1. */
const MEMBERS: Array<{scheme: Scheme; version: Version}> = [
  {scheme: 'ws', version: 5},
  {scheme: 'mqtt', version: 5},
  {scheme: 'mqtt', version: 4},
  {scheme: 'wss', version: 4},
]

describe('shared subscriptions', function () {
  const suite = useSuiteBroker()
  const {t} = suite
  const js = (scheme: Scheme, version: Version, o: IClientOptions = {}): Promise<JsClient> =>
    openJs(t, suite.tb.urls[scheme], {clientId: uid(), ...versionOptions(version), ...o})

  it('delivers each message to exactly one member of each group, round-robin, across transports; ordinary subscribers get all', async function () {
    const topic = uid('s')
    const g = await Promise.all(MEMBERS.map((m) => js(m.scheme, m.version)))
    for (const c of g) await c.client.subscribeAsync(`$share/g/${topic}`, {qos: 1})
    const h = await js('ws', 5)
    await h.client.subscribeAsync(`$share/h/${topic}`, {qos: 1})
    const plain = await js('mqtt', 4)
    await plain.client.subscribeAsync(topic, {qos: 1})
    const pub = await js('mqtt', 5)
    const N = 40
    for (let i = 0; i < N; i++) await pub.client.publishAsync(topic, `m${i}`, {qos: i % 2 === 0 ? 1 : 0})
    assert.equal((await plain.inbox.take(N)).length, N)
    assert.deepEqual(
      (await h.inbox.take(N)).map((m) => m.payload.toString()),
      Array.from({length: N}, (_, i) => `m${i}`),
      'the only member of group h gets everything',
    )
    const per = await Promise.all(g.map((c) => c.inbox.take(N / g.length)))
    const all = per.flat().map((m) => m.payload.toString())
    assert.deepEqual([...all].sort(), Array.from({length: N}, (_, i) => `m${i}`).sort(), 'every message exactly once in group g')
    // Round-robin: member k gets messages k, k+4, k+8, ...
    for (const [k, msgs] of per.entries()) {
      assert.deepEqual(
        msgs.map((m) => m.payload.toString()),
        Array.from({length: N / g.length}, (_, j) => `m${k + j * g.length}`),
        `member ${k} (${MEMBERS[k].scheme}, v${MEMBERS[k].version})`,
      )
    }
    // Nothing more for anyone.
    await pub.client.publishAsync(`${topic}/end`, 'x', {qos: 1})
    for (const c of [...g, h]) assert.equal(c.inbox.all.length, N / (c === h ? 1 : g.length))
  })

  it('$queue/FILTER is a shared subscription of the group "$queue"', async function () {
    const topic = uid('q')
    const a = await js('mqtt', 5)
    const b = await js('ws', 4)
    await a.client.subscribeAsync(`$queue/${topic}`, {qos: 1})
    await b.client.subscribeAsync(`$share/$queue/${topic}`, {qos: 1})
    const pub = await js('mqtt', 5)
    for (let i = 0; i < 6; i++) await pub.client.publishAsync(topic, `m${i}`, {qos: 1})
    const got = [...(await a.inbox.take(3)), ...(await b.inbox.take(3))].map((m) => m.payload.toString()).sort()
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'])
  })

  it('a member gets messages under its own subscription: QoS downgrade and subscription identifier', async function () {
    const topic = uid('o')
    const a = await js('mqtt', 5)
    await a.client.subscribeAsync(`$share/g/${topic}`, {qos: 0, properties: {subscriptionIdentifier: 42}})
    const pub = await js('ws', 5)
    await pub.client.publishAsync(topic, 'x', {qos: 2})
    const m = await a.inbox.one()
    assert.equal(m.packet.qos, 0)
    assert.equal(m.packet.properties?.subscriptionIdentifier, 42)
  })

  it('sends no retained messages on a shared subscription', async function () {
    const topic = uid('r')
    const pub = await js('mqtt', 5)
    await pub.client.publishAsync(topic, 'retained', {qos: 1, retain: true})
    const a = await js('ws', 5)
    await a.client.subscribeAsync(`$share/g/${topic}`, {qos: 1})
    await pub.client.publishAsync(topic, 'live', {qos: 1})
    const m = await a.inbox.one()
    assert.equal(m.payload.toString(), 'live')
    assert.equal(m.packet.retain, false)
  })

  it('stops delivering to a member that unsubscribes; the group goes when its last member does', async function () {
    const topic = uid('u')
    const a = await js('mqtt', 5)
    const b = await js('ws', 5)
    await a.client.subscribeAsync(`$share/g/${topic}`, {qos: 1})
    await b.client.subscribeAsync(`$share/g/${topic}`, {qos: 1})
    await a.client.unsubscribeAsync(`$share/g/${topic}`)
    const pub = await js('mqtt', 5)
    for (let i = 0; i < 4; i++) await pub.client.publishAsync(topic, `m${i}`, {qos: 1})
    assert.equal((await b.inbox.take(4)).length, 4)
    assert.equal(a.inbox.all.length, 0)
    assert.ok(suite.tb.broker.sharedGroups().includes(`$share/g/${topic}`))
    await b.client.unsubscribeAsync(`$share/g/${topic}`)
    assert.equal(suite.tb.broker.sharedGroups().includes(`$share/g/${topic}`), false)
  })

  it('No Local on a shared subscription: DISCONNECT 0x82 (MQTT-3.8.3-4)', async function () {
    const {wire} = await connectWire(t, suite.tb, 'ws', 5)
    wire.send({cmd: 'subscribe', messageId: 1, subscriptions: [{topic: `$share/g/${uid('nl')}`, qos: 1, nl: true}]})
    await expectViolation(wire, 0x82)
  })

  it('refuses bad share names with SUBACK 0x8F (0x80 in 3.1.1) and keeps the connection', async function () {
    for (const version of [4, 5] as const) {
      const {wire} = await connectWire(t, suite.tb, 'mqtt', version)
      const bad = version === 5 ? 0x8f : 0x80
      assert.deepEqual(await rawSubscribe(wire, ['$share/g', '$share//t', '$share/a#/t', '$share/g/', '$queue/', {topic: '$share/g/a/+', qos: 1}]), [bad, bad, bad, bad, bad, 1])
    }
  })

  describe('a member that leaves with unacknowledged messages', function () {
    for (const qos of [1, 2] as const) {
      it(`hands its unacknowledged QoS ${qos} messages, and those still queued, to another member`, async function () {
        const topic = uid('rd')
        // A receives but never acknowledges; its window holds one message, so the second waits in its queue.
        const {wire: a} = await connectWire(t, suite.tb, 'mqtt', 5, {properties: {receiveMaximum: 1}})
        assert.deepEqual(await rawSubscribe(a, [{topic: `$share/g/${topic}`, qos}]), [qos])
        const pub = await js('ws', 5)
        await pub.client.publishAsync(topic, 'first', {qos})
        const got = await a.expect('publish')
        assert.equal(got.payload.toString(), 'first')
        const b = await js('ws', 5)
        await b.client.subscribeAsync(`$share/g/${topic}`, {qos})
        // Round-robin goes on with B for the next message; the one after returns to A and waits in its queue.
        await pub.client.publishAsync(topic, 'second', {qos})
        await pub.client.publishAsync(topic, 'third', {qos})
        assert.equal((await b.inbox.one()).payload.toString(), 'second')
        a.close()
        const rest = await b.inbox.take(2)
        assert.deepEqual(rest.map((m) => m.payload.toString()).sort(), ['first', 'third'])
        for (const m of rest) assert.equal(m.packet.dup, false, 'a new delivery to another member')
      })
    }

    it('keeps them for its own return when no other member is online (persistent session)', async function () {
      const topic = uid('rk')
      const id = uid()
      const {wire: a} = await connectWire(t, suite.tb, 'mqtt', 5, {clientId: id, clean: false, properties: {sessionExpiryInterval: 60}})
      assert.deepEqual(await rawSubscribe(a, [{topic: `$share/g/${topic}`, qos: 1}]), [1])
      const pub = await js('ws', 5)
      await pub.client.publishAsync(topic, 'kept', {qos: 1})
      await a.expect('publish')
      const gone = brokerClosed(suite.tb.broker, id)
      a.close()
      await gone
      const {wire: back} = await connectWire(t, suite.tb, 'ws', 5, {clientId: id, clean: false, properties: {sessionExpiryInterval: 60}})
      const again = await back.expect('publish')
      assert.equal(again.payload.toString(), 'kept')
      assert.equal(again.dup, true)
    })
  })

  describe('strategies', function () {
    async function strategyRun(strategy: SharedStrategy, n: number): Promise<{counts: number[]; order: number[]; group: JsClient[]; pub: JsClient; topic: string; b: TestBroker}> {
      const b = await startBroker({sharedStrategy: strategy})
      const topic = uid('st')
      const group: JsClient[] = []
      for (const scheme of ['mqtt', 'ws', 'mqtt'] as const) {
        const c = await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5})
        await c.client.subscribeAsync(`$share/g/${topic}`, {qos: 1})
        group.push(c)
      }
      const pub = await openJs(t, b.urls.mqtt, {clientId: uid(), protocolVersion: 5})
      for (let i = 0; i < n; i++) await pub.client.publishAsync(topic, `${i}`, {qos: 1})
      // Every message exactly once: wait until all arrived.
      for (let waited = 0; group.reduce((s, c) => s + c.inbox.all.length, 0) < n && waited < 3000; waited += 10) await new Promise((r) => setTimeout(r, 10))
      const order: number[] = []
      for (const [k, c] of group.entries()) for (const m of c.inbox.all) order[Number(m.payload.toString())] = k
      return {counts: group.map((c) => c.inbox.all.length), order, group, pub, topic, b}
    }

    it('random: each message exactly once, spread over the members', async function () {
      const r = await strategyRun('random', 60)
      try {
        assert.equal(r.counts.reduce((a, b) => a + b, 0), 60)
        assert.equal(r.order.filter((k) => k !== undefined).length, 60)
        assert.ok(
          r.counts.every((c) => c > 0),
          `some member got nothing: ${r.counts}`,
        )
        // Not round-robin: round-robin would give exactly 0,1,2,0,1,2,...
        assert.notDeepEqual(
          r.order,
          r.order.map((_, i) => i % 3),
        )
      } finally {
        t.closeAll()
        await r.b.close()
      }
    })

    it('sticky: one member gets everything while it is online; then another takes over', async function () {
      const r = await strategyRun('sticky', 10)
      try {
        const first = r.counts.findIndex((c) => c > 0)
        assert.deepEqual(
          r.counts,
          r.counts.map((_, k) => (k === first ? 10 : 0)),
        )
        const gone = brokerClosed(r.b.broker, r.group[first].client.options.clientId!)
        r.group[first].client.end(true)
        await gone
        for (let i = 10; i < 15; i++) await r.pub.client.publishAsync(r.topic, `${i}`, {qos: 1})
        const next = r.group.findIndex((c, k) => k !== first && c.inbox.all.length > 0)
        assert.notEqual(next, -1)
        assert.equal((await r.group[next].inbox.take(5)).length, 5)
        for (const [k, c] of r.group.entries()) if (k !== first && k !== next) assert.equal(c.inbox.all.length, 0)
      } finally {
        t.closeAll()
        await r.b.close()
      }
    })
  })

  it('queues QoS 1 for an offline member when no member is online, and delivers it on return', async function () {
    const topic = uid('off')
    const id = uid()
    const opts = {clientId: id, clean: false, properties: {sessionExpiryInterval: 60}}
    const a = await js('mqtt', 5, opts)
    await a.client.subscribeAsync(`$share/g/${topic}`, {qos: 1})
    const gone = brokerClosed(suite.tb.broker, id)
    await a.client.endAsync()
    await gone
    const {wire: pub} = await connectWire(t, suite.tb, 'ws', 5)
    pub.send(rawPublish(5, {topic, payload: 'waiting', qos: 1, id: 1}))
    assert.equal((await pub.next()).raw.toString('hex'), '40020001', 'the group counts as a subscriber')
    pub.send(PINGREQ)
    await pub.expect('pingresp')
    const back = await js('ws', 5, opts)
    assert.equal((await back.inbox.one()).payload.toString(), 'waiting')
  })
})
