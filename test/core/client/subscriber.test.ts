/**
 * runSubscriber (what `sub` does once connected): -C count, -W timeout, -R, -T,
 * --retained-only, --remove-retained (in mosquitto_sub's order: -R and -T messages are
 * not cleared), a refused subscription, a signal, and a lost connection.
 */
import assert from 'node:assert/strict'
import mqttPacket from 'mqtt-packet'
import type {IPublishPacket, ISubscribePacket} from 'mqtt-packet'
import {MqttClient} from '../../../src/core/client/client.js'
import {runSubscriber} from '../../../src/core/client/subscriber.js'
import type {SubscribePlan} from '../../../src/core/client/subscriber.js'
import {ErrorCode, RefusedError, TransportError} from '../../../src/core/errors.js'
import {useClientSuite} from '../../helpers/client-suite.js'
import {uid, within} from '../../helpers/contract.js'
import {connackBytes} from './fake-broker.js'

describe('runSubscriber', function () {
  const suite = useClientSuite({broker: true})
  const connect = (): Promise<MqttClient> => suite.connect()

  /** Runs the plan on a fresh client; `during` runs once subscribed (SUBACK received). */
  async function run(plan: SubscribePlan, during: (pub: MqttClient) => Promise<void> = async () => {}, signal?: AbortSignal) {
    const sub = await connect()
    const pub = await connect()
    const got: IPublishPacket[] = []
    // SUBACK is handled before any message that follows it: wait for it through the engine's own promise.
    const origSubscribe = sub.subscribe.bind(sub)
    let subscribed!: () => void
    const ready = new Promise<void>((resolve) => (subscribed = resolve))
    sub.subscribe = async (...args) => {
      const codes = await origSubscribe(...args)
      subscribed()
      return codes
    }
    const running = runSubscriber(sub, plan, (p) => got.push(p), signal)
    const driving = ready.then(() => during(pub))
    const result = await within(running, 8000, 'runSubscriber')
    await driving
    return {result, got, sub, pub}
  }

  it('-C: stops after N messages and hands over no more', async function () {
    const topic = uid('count')
    const {result, got} = await run({subscriptions: [{topic, qos: 1}], count: 2}, async (pub) => {
      for (const m of ['a', 'b', 'c']) await pub.publishAsync(topic, m, {qos: 1})
    })
    assert.equal(result.reason, 'count')
    assert.equal(result.received, 2)
    assert.deepEqual(got.map((p) => String(p.payload)), ['a', 'b'])
  })

  it('-W: stops when the time is up', async function () {
    const {result} = await run({subscriptions: [{topic: uid('quiet'), qos: 0}], timeoutMs: 200})
    assert.deepEqual(result, {received: 0, reason: 'timeout', error: undefined})
  })

  it('an abort signal (SIGINT) stops it cleanly', async function () {
    const ac = new AbortController()
    const {result} = await run({subscriptions: [{topic: uid('sig'), qos: 0}]}, async () => ac.abort(), ac.signal)
    assert.equal(result.reason, 'signal')
  })

  it('-R skips retained messages; -T filters topics out', async function () {
    const base = uid('rt')
    const seed = await connect()
    await seed.publishAsync(`${base}/old`, 'stale', {qos: 1, retain: true})
    const {got} = await run({subscriptions: [{topic: `${base}/#`, qos: 1}], skipRetained: true, filterOut: [`${base}/noise/#`], count: 1}, async (pub) => {
      await pub.publishAsync(`${base}/noise/x`, 'filtered', {qos: 1})
      await pub.publishAsync(`${base}/live`, 'fresh', {qos: 1})
    })
    assert.deepEqual(got.map((p) => [p.topic, String(p.payload)]), [[`${base}/live`, 'fresh']])
  })

  it('--retained-only: hands over retained messages and stops at the first live one', async function () {
    const base = uid('ro')
    const seed = await connect()
    await seed.publishAsync(`${base}/a`, '1', {qos: 1, retain: true})
    await seed.publishAsync(`${base}/b`, '2', {qos: 1, retain: true})
    const {result, got} = await run({subscriptions: [{topic: `${base}/#`, qos: 1}], retainedOnly: true, retainedQuietMs: 5000}, async (pub) => {
      await pub.publishAsync(`${base}/c`, 'live', {qos: 1})
    })
    assert.equal(result.reason, 'retained-done')
    assert.deepEqual(got.map((p) => String(p.payload)).sort(), ['1', '2'])
  })

  it('--retained-only: stops after a quiet period when no live message comes', async function () {
    const base = uid('roq')
    const seed = await connect()
    await seed.publishAsync(`${base}/a`, '1', {qos: 1, retain: true})
    const {result, got} = await run({subscriptions: [{topic: `${base}/#`, qos: 1}], retainedOnly: true, retainedQuietMs: 100})
    assert.equal(result.reason, 'retained-done')
    assert.deepEqual(got.map((p) => String(p.payload)), ['1'])
  })

  it('--remove-retained clears what it hands over, but not what -T filters out (as mosquitto_sub)', async function () {
    const base = uid('rm')
    const seed = await connect()
    await seed.publishAsync(`${base}/clear`, 'x', {qos: 1, retain: true})
    await seed.publishAsync(`${base}/keep`, 'y', {qos: 1, retain: true})
    const {result, sub} = await run({subscriptions: [{topic: `${base}/#`, qos: 1}], retainedOnly: true, retainedQuietMs: 200, removeRetained: true, filterOut: [`${base}/keep`]})
    assert.equal(result.reason, 'retained-done')
    await sub.end()
    // What is left retained: a fresh subscriber sees only the protected one.
    const check = await connect()
    const left: string[] = []
    check.on('message', (p) => left.push(p.topic))
    await check.subscribe([{topic: `${base}/#`, qos: 1}])
    const barrier = new Promise<void>((resolve) => check.on('message', (p) => p.topic === `${base}/barrier` && resolve()))
    await check.publishAsync(`${base}/barrier`, 'b', {qos: 1})
    await within(barrier, 5000, 'the barrier message')
    assert.deepEqual(left.filter((t) => t !== `${base}/barrier`), [`${base}/keep`])
  })

  it('--remove-retained with -R clears nothing (-R messages are not handled at all)', async function () {
    const base = uid('rmr')
    const seed = await connect()
    await seed.publishAsync(`${base}/stay`, 'x', {qos: 1, retain: true})
    const {sub} = await run({subscriptions: [{topic: `${base}/#`, qos: 1}], skipRetained: true, removeRetained: true, count: 1}, async (pub) => {
      await pub.publishAsync(`${base}/live`, 'l', {qos: 1})
    })
    await sub.end()
    const check = await connect()
    const retained = new Promise<IPublishPacket>((resolve) => check.once('message', resolve))
    await check.subscribe([{topic: `${base}/stay`, qos: 1}])
    assert.equal(String((await within(retained, 5000, 'the retained message')).payload), 'x')
  })

  it('a refused subscription rejects with a RefusedError naming the filter and reason code', async function () {
    const fake = await suite.fake({
      onConnect: (c) => {
        c.send(connackBytes(5))
        void c.waitFor('SUBSCRIBE', (p) => p.cmd === 'subscribe').then((p) => {
          c.send(mqttPacket.generate({cmd: 'suback', messageId: (p as ISubscribePacket).messageId, granted: [1, 0x87]}, {protocolVersion: 5}))
        })
      },
    })
    const client = await suite.connect({url: fake.url})
    await assert.rejects(
      runSubscriber(client, {subscriptions: [{topic: 'ok', qos: 1}, {topic: 'secret/#', qos: 1}]}, () => {}),
      (e: RefusedError) => {
        assert.ok(e instanceof RefusedError)
        assert.equal(e.code, ErrorCode.REFUSED)
        assert.equal(e.reasonCode, 0x87)
        assert.equal(e.message, 'subscription to "secret/#" refused with 0x87 not authorized')
        return true
      },
    )
  })

  it('sends the subscription options, the subscription identifier and user properties', async function () {
    const fake = await suite.fake({onConnect: (c) => c.send(connackBytes(5))})
    const client = await suite.connect({url: fake.url})
    const ac = new AbortController()
    const running = runSubscriber(client, {subscriptions: [{topic: 'a/+', qos: 2, nl: true, rap: true, rh: 2}], subscriptionId: 42, userProperties: {who: 'me'}}, () => {}, ac.signal)
    const conn = await fake.nextConnection()
    const s = (await conn.waitFor('SUBSCRIBE', (p) => p.cmd === 'subscribe')) as ISubscribePacket
    assert.deepEqual(s.subscriptions, [{topic: 'a/+', qos: 2, nl: true, rap: true, rh: 2}])
    assert.equal(s.properties?.subscriptionIdentifier, 42)
    assert.deepEqual({...s.properties?.userProperties}, {who: 'me'})
    conn.send(mqttPacket.generate({cmd: 'suback', messageId: s.messageId, granted: [2]}, {protocolVersion: 5}))
    conn.end()
    const result = await within(running, 5000, 'the end')
    assert.equal(result.reason, 'closed')
    assert.ok(result.error instanceof TransportError)
    ac.abort()
  })
})
