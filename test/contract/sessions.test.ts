/**
 * Broker contract, sessions: clean session (3.1.1) and clean start + session expiry (5.0),
 * offline queues, and resending unacknowledged messages with DUP on reconnect.
 */
import assert from 'node:assert/strict'
import type {IClientOptions} from 'mqtt'
import type {Scheme} from '../../src/core/config.js'
import {SCHEMES, startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'
import {
  Tracker,
  VERSIONS,
  brokerClosed,
  connectWire,
  openJs,
  rawPublish,
  rawSubscribe,
  settle,
  uid,
  useSuiteBroker,
  versionLabel,
  versionOptions,
} from '../helpers/contract.js'
import type {ConnectFields, JsClient, Version} from '../helpers/contract.js'
import {delay} from '../helpers/mqttjs.js'

/** Ends an MQTT.js client with DISCONNECT and waits until the broker has closed it. */
async function leave(tb: TestBroker, c: JsClient): Promise<void> {
  const gone = brokerClosed(tb.broker, c.client.options.clientId!)
  await c.client.endAsync()
  await gone
}

for (const scheme of SCHEMES) {
  for (const version of VERSIONS) {
    const v5 = version === 5
    const persistentLabel = v5 ? 'clean start 0, session expiry 300 s' : 'clean session 0'

    describe(`sessions over ${scheme}, MQTT ${versionLabel(version)}`, function () {
      const suite = useSuiteBroker()
      const {t} = suite
      const js = (o: IClientOptions = {}): Promise<JsClient> => openJs(t, suite.tb.urls[scheme], {clientId: uid(), ...versionOptions(version), ...o})
      /** A raw CONNECT that asks for a persistent session. */
      const persistentRaw = (clientId: string): ConnectFields =>
        v5 ? {clientId, clean: false, properties: {sessionExpiryInterval: 300}} : {clientId, clean: false}

      it(`a persistent session (${persistentLabel}) keeps its subscriptions and queues QoS 1 and 2 in order while offline`, async function () {
        const id = uid()
        const topic = uid('q')
        const first = await js({clientId: id, ...versionOptions(version, true)})
        assert.equal(first.connack.sessionPresent, false)
        await first.client.subscribeAsync(topic, {qos: 2})
        await leave(suite.tb, first)

        const pub = await js()
        await pub.client.publishAsync(topic, 'q1', {qos: 1})
        await pub.client.publishAsync(topic, 'q2', {qos: 2})
        await pub.client.publishAsync(topic, 'q1b', {qos: 1})
        await pub.client.publishAsync(topic, 'q2b', {qos: 2})

        const back = await js({clientId: id, ...versionOptions(version, true)})
        assert.equal(back.connack.sessionPresent, true)
        const got = await back.inbox.take(4)
        assert.deepEqual(
          got.map((m) => [m.payload.toString(), m.packet.qos]),
          [
            ['q1', 1],
            ['q2', 2],
            ['q1b', 1],
            ['q2b', 2],
          ],
        )
        // The subscription is still there without subscribing again.
        await pub.client.publishAsync(topic, 'live', {qos: 1})
        assert.equal((await back.inbox.one()).payload.toString(), 'live')
      })

      it('does not queue QoS 0 messages for an offline session', async function () {
        const id = uid()
        const topic = uid('q')
        const first = await js({clientId: id, ...versionOptions(version, true)})
        await first.client.subscribeAsync(topic, {qos: 2})
        await leave(suite.tb, first)

        const pub = await js()
        await pub.client.publishAsync(topic, 'zero', {qos: 0})
        await pub.client.publishAsync(topic, 'one', {qos: 1})

        const back = await js({clientId: id, ...versionOptions(version, true)})
        assert.equal(back.connack.sessionPresent, true)
        const m = await back.inbox.one()
        assert.equal(m.payload.toString(), 'one', 'the QoS 0 message was queued')
      })

      it(`a clean ${v5 ? 'start' : 'session'} discards the stored session and starts empty (session present 0)`, async function () {
        const id = uid()
        const topic = uid('c')
        const marker = uid('m')
        const first = await js({clientId: id, ...versionOptions(version, true)})
        await first.client.subscribeAsync(topic, {qos: 1})
        await leave(suite.tb, first)

        const clean = await js({clientId: id, ...versionOptions(version)})
        assert.equal(clean.connack.sessionPresent, false)
        await clean.client.subscribeAsync(marker, {qos: 1})
        const pub = await js()
        await pub.client.publishAsync(topic, 'old subscription', {qos: 1})
        await pub.client.publishAsync(marker, 'marker', {qos: 1})
        assert.equal((await clean.inbox.one()).topic, marker, 'the old subscription delivered')
        await leave(suite.tb, clean)

        // Nothing was stored for it either.
        const again = await js({clientId: id, ...versionOptions(version, true)})
        assert.equal(again.connack.sessionPresent, false)
      })

      it(`a session that ends with the connection (${v5 ? 'clean start 0 without a session expiry' : 'clean session 1'}) is not kept`, async function () {
        const id = uid()
        const first = await js({clientId: id, ...(v5 ? {protocolVersion: 5, clean: false} : {protocolVersion: 4, clean: true})})
        await first.client.subscribeAsync(uid('t'), {qos: 1})
        await leave(suite.tb, first)
        const back = await js({clientId: id, ...versionOptions(version, true)})
        assert.equal(back.connack.sessionPresent, false)
      })

      it('resends an unacknowledged QoS 1 PUBLISH with DUP and the same packet id on reconnect', async function () {
        const id = uid()
        const topic = uid('dup')
        const {wire: r1} = await connectWire(t, suite.tb, scheme, version, persistentRaw(id))
        assert.deepEqual(await rawSubscribe(r1, [{topic, qos: 1}]), [1])
        const pub = await js()
        await pub.client.publishAsync(topic, 'unacked', {qos: 1})
        const sent = await r1.expect('publish')
        assert.equal(sent.raw[0], 0x32, 'QoS 1, no DUP')
        const gone = brokerClosed(suite.tb.broker, id)
        r1.close() // no PUBACK
        await gone

        const {wire: r2, connack} = await connectWire(t, suite.tb, scheme, version, persistentRaw(id))
        assert.equal(connack.sessionPresent, true)
        const resent = await r2.expect('publish')
        assert.equal(resent.raw[0], 0x3a, 'QoS 1 with DUP')
        assert.equal(resent.messageId, sent.messageId)
        assert.equal(resent.topic, topic)
        assert.equal(resent.payload.toString(), 'unacked')
        r2.send({cmd: 'puback', messageId: resent.messageId!})

        await pub.client.publishAsync(topic, 'next', {qos: 1})
        const next = await r2.expect('publish')
        assert.equal(next.payload.toString(), 'next', 'the acknowledged message came again')
        assert.equal(next.raw[0], 0x32)
      })

      it('QoS 2: resends PUBLISH with DUP until PUBREC, then PUBREL until PUBCOMP, across reconnects', async function () {
        const id = uid()
        const topic = uid('dup2')
        const {wire: r1} = await connectWire(t, suite.tb, scheme, version, persistentRaw(id))
        assert.deepEqual(await rawSubscribe(r1, [{topic, qos: 2}]), [2])
        const pub = await js()
        await pub.client.publishAsync(topic, 'exactly once', {qos: 2})
        const sent = await r1.expect('publish')
        assert.equal(sent.raw[0], 0x34, 'QoS 2, no DUP')
        const pid = sent.messageId!
        let gone = brokerClosed(suite.tb.broker, id)
        r1.close() // no PUBREC
        await gone

        const {wire: r2} = await connectWire(t, suite.tb, scheme, version, persistentRaw(id))
        const resent = await r2.expect('publish')
        assert.equal(resent.raw[0], 0x3c, 'QoS 2 with DUP')
        assert.equal(resent.messageId, pid)
        assert.equal(resent.payload.toString(), 'exactly once')
        r2.send({cmd: 'pubrec', messageId: pid})
        const rel = await r2.expect('pubrel')
        assert.equal(rel.messageId, pid)
        gone = brokerClosed(suite.tb.broker, id)
        r2.close() // no PUBCOMP
        await gone

        const {wire: r3, connack} = await connectWire(t, suite.tb, scheme, version, persistentRaw(id))
        assert.equal(connack.sessionPresent, true)
        const rel2 = await r3.next()
        assert.equal(rel2.packet.cmd, 'pubrel', `expected PUBREL again, got ${rel2.raw.toString('hex')}`)
        assert.equal(rel2.raw[0], 0x62)
        assert.equal((rel2.packet as {messageId?: number}).messageId, pid)
        r3.send({cmd: 'pubcomp', messageId: pid})

        await pub.client.publishAsync(topic, 'after', {qos: 0})
        const after = await r3.expect('publish')
        assert.equal(after.payload.toString(), 'after', 'the completed message came again')
      })

      it('QoS 2 from the client: a PUBLISH resent after a reconnect, before PUBREL, is delivered once', async function () {
        const id = uid()
        const topic = uid('eo')
        const sub = await js()
        await sub.client.subscribeAsync(topic, {qos: 2})
        const {wire: p1} = await connectWire(t, suite.tb, scheme, version, persistentRaw(id))
        p1.send(rawPublish(version, {topic, payload: 'once', qos: 2, id: 5}))
        await p1.expect('pubrec')
        const gone = brokerClosed(suite.tb.broker, id)
        p1.close() // no PUBREL
        await gone

        const {wire: p2, connack} = await connectWire(t, suite.tb, scheme, version, persistentRaw(id))
        assert.equal(connack.sessionPresent, true)
        p2.send(rawPublish(version, {topic, payload: 'once', qos: 2, id: 5, dup: true}))
        assert.equal((await p2.expect('pubrec')).messageId, 5)
        p2.send({cmd: 'pubrel', messageId: 5})
        assert.equal((await p2.expect('pubcomp')).messageId, 5)
        p2.send(rawPublish(version, {topic, payload: 'marker'}))
        assert.deepEqual(
          (await sub.inbox.take(2)).map((m) => m.payload.toString()),
          ['once', 'marker'],
        )
      })
    })
  }
}

/** Session expiry needs a real second, so every transport's scenario starts at once. */
describe('sessions: MQTT 5 session expiry', function () {
  let tb: TestBroker
  const t = new Tracker()
  const outcomes = new Map<Scheme, Promise<Error | undefined>>()

  async function expiry(scheme: Scheme): Promise<void> {
    const id = uid()
    const topic = uid('exp')
    const marker = uid('m')
    const opts = {clientId: id, protocolVersion: 5 as Version, clean: false, properties: {sessionExpiryInterval: 1}}
    const first = await openJs(t, tb.urls[scheme], opts)
    await first.client.subscribeAsync(topic, {qos: 1})
    await leave(tb, first)
    const soon = await openJs(t, tb.urls[scheme], opts)
    assert.equal(soon.connack.sessionPresent, true, 'the session exists before its expiry')
    await leave(tb, soon)

    await delay(1300) // let the 1 s expiry lapse
    const late = await openJs(t, tb.urls[scheme], opts)
    assert.equal(late.connack.sessionPresent, false, 'the session outlived its expiry')
    await late.client.subscribeAsync(marker, {qos: 1})
    const pub = await openJs(t, tb.urls[scheme], {clientId: uid(), protocolVersion: 5})
    await pub.client.publishAsync(topic, 'expired subscription', {qos: 1})
    await pub.client.publishAsync(marker, 'marker', {qos: 1})
    assert.equal((await late.inbox.one()).topic, marker, 'the expired subscription delivered')
  }

  before(async () => {
    tb = await startBroker()
    for (const scheme of SCHEMES) outcomes.set(scheme, settle(expiry(scheme)))
  })
  after(async () => {
    await Promise.all(outcomes.values())
    t.closeAll()
    await tb?.close()
  })

  for (const scheme of SCHEMES) {
    it(`over ${scheme}: a session with expiry 1 s is there on a quick return and gone after it lapses`, async function () {
      const error = await outcomes.get(scheme)
      if (error) throw error
    })
  }
})
