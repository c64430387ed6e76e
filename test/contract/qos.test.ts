/**
 * Broker contract, delivery: QoS 0/1/2 in both directions and their handshakes on the
 * wire, QoS downgrade, overlapping subscriptions, exactly-once with a resent PUBLISH,
 * and retained messages (MQTT 5 retain handling and retain-as-published included).
 */
import assert from 'node:assert/strict'
import type {IClientOptions} from 'mqtt'
import {SCHEMES, startBroker} from '../helpers/broker.js'
import {VERSIONS, connectWire, openJs, rawPublish, rawSubscribe, uid, useSuiteBroker, versionLabel, versionOptions} from '../helpers/contract.js'
import type {JsClient} from '../helpers/contract.js'
import {hex} from '../helpers/raw.js'

const id16 = (n: number): string => n.toString(16).padStart(4, '0')

for (const scheme of SCHEMES) {
  for (const version of VERSIONS) {
    const v5 = version === 5

    describe(`delivery over ${scheme}, MQTT ${versionLabel(version)}`, function () {
      const suite = useSuiteBroker()
      const {t} = suite
      const js = (o: IClientOptions = {}): Promise<JsClient> => openJs(t, suite.tb.urls[scheme], {clientId: uid(), ...versionOptions(version), ...o})

      describe('QoS', function () {
        it('delivers QoS 0, 1 and 2 end to end, acknowledging the publisher', async function () {
          const topic = uid('q')
          const sub = await js()
          await sub.client.subscribeAsync(topic, {qos: 2})
          const pub = await js()
          // publishAsync resolves on PUBACK (QoS 1) and PUBCOMP (QoS 2) from the broker.
          for (const qos of [0, 1, 2] as const) await pub.client.publishAsync(topic, `qos ${qos}`, {qos})
          const got = await sub.inbox.take(3)
          assert.deepEqual(
            got.map((m) => [m.payload.toString(), m.packet.qos]),
            [
              ['qos 0', 0],
              ['qos 1', 1],
              ['qos 2', 2],
            ],
          )
        })

        it('runs the QoS 1 and QoS 2 handshakes on the wire, and an acknowledgement frees the inflight window', async function () {
          const small = await startBroker({limits: {maxInflight: 1}})
          try {
            const topic = uid('hs')
            const {wire: sub} = await connectWire(t, small, scheme, version)
            assert.deepEqual(await rawSubscribe(sub, [{topic, qos: 2}]), [2])
            const {wire: pub} = await connectWire(t, small, scheme, version)

            // Broker as receiver.
            pub.send(rawPublish(version, {topic, payload: 'one', qos: 1, id: 0x1234}))
            assert.equal((await pub.next()).raw.toString('hex'), '40021234')
            pub.send(rawPublish(version, {topic, payload: 'two', qos: 2, id: 0x0102}))
            assert.equal((await pub.next()).raw.toString('hex'), '50020102')
            pub.send(hex('62 02 01 02'))
            assert.equal((await pub.next()).raw.toString('hex'), '70020102')

            // Broker as sender, one message in flight at a time.
            const one = await sub.expect('publish')
            assert.equal(one.payload.toString(), 'one')
            assert.equal(one.qos, 1)
            assert.equal(sub.unread().length, 0, 'the second message left before the first was acknowledged')
            sub.send(hex(`40 02 ${id16(one.messageId!)}`))
            const two = await sub.expect('publish')
            assert.equal(two.payload.toString(), 'two')
            assert.equal(two.qos, 2)
            sub.send(hex(`50 02 ${id16(two.messageId!)}`))
            assert.equal((await sub.next()).raw.toString('hex'), `6202${id16(two.messageId!)}`)
            sub.send(hex(`70 02 ${id16(two.messageId!)}`))

            pub.send(rawPublish(version, {topic, payload: 'three', qos: 1, id: 7}))
            await pub.expect('puback')
            assert.equal((await sub.expect('publish')).payload.toString(), 'three', 'PUBCOMP did not free the window')
          } finally {
            t.closeAll()
            await small.close()
          }
        })

        it("downgrades to the subscription's QoS and never upgrades", async function () {
          const p = uid('dg')
          const sub = await js()
          await sub.client.subscribeAsync({[`${p}/0`]: {qos: 0}, [`${p}/1`]: {qos: 1}})
          const pub = await js()
          await pub.client.publishAsync(`${p}/0`, 'a', {qos: 2})
          await pub.client.publishAsync(`${p}/1`, 'b', {qos: 2})
          await pub.client.publishAsync(`${p}/1`, 'c', {qos: 0})
          const got = await sub.inbox.take(3)
          assert.deepEqual(
            got.map((m) => [m.payload.toString(), m.packet.qos]),
            [
              ['a', 0],
              ['b', 1],
              ['c', 0],
            ],
          )
        })

        it('delivers one copy at the highest QoS of overlapping subscriptions', async function () {
          const p = uid('ov')
          const sub = await js()
          await sub.client.subscribeAsync({[`${p}/a`]: {qos: 0}, [`${p}/+`]: {qos: 2}, [`${p}/#`]: {qos: 1}})
          const pub = await js()
          await pub.client.publishAsync(`${p}/a`, 'once', {qos: 2})
          await pub.client.publishAsync(`${p}/a`, 'q1', {qos: 1})
          await pub.client.publishAsync(`${p}/end`, 'end', {qos: 0})
          const got = await sub.inbox.take(3)
          assert.deepEqual(
            got.map((m) => [m.payload.toString(), m.packet.qos]),
            [
              ['once', 2],
              ['q1', 1],
              ['end', 0],
            ],
          )
        })

        it('QoS 2: delivers exactly once when the publisher resends the PUBLISH before PUBREL', async function () {
          const topic = uid('eo')
          const sub = await js()
          await sub.client.subscribeAsync(topic, {qos: 2})
          const {wire: pub} = await connectWire(t, suite.tb, scheme, version)
          pub.send(rawPublish(version, {topic, payload: 'once', qos: 2, id: 9}))
          assert.equal((await pub.next()).raw.toString('hex'), '50020009')
          pub.send(rawPublish(version, {topic, payload: 'once', qos: 2, id: 9, dup: true}))
          assert.equal((await pub.next()).raw.toString('hex'), '50020009')
          pub.send(hex('62 02 00 09'))
          assert.equal((await pub.next()).raw.toString('hex'), '70020009')
          // After PUBREL the id is free again: the same id now carries a new message.
          pub.send(rawPublish(version, {topic, payload: 'again', qos: 2, id: 9}))
          assert.equal((await pub.next()).raw.toString('hex'), '50020009')
          pub.send(hex('62 02 00 09'))
          await pub.expect('pubcomp')
          pub.send(rawPublish(version, {topic, payload: 'marker'}))
          const got = await sub.inbox.take(3)
          assert.deepEqual(
            got.map((m) => m.payload.toString()),
            ['once', 'again', 'marker'],
          )
        })
      })

      describe('retained messages', function () {
        it('stores a retained message and delivers it on subscribe with retain set, at the lower QoS', async function () {
          const p = uid('r')
          const pub = await js()
          await pub.client.publishAsync(`${p}/a`, 'A', {qos: 1, retain: true})
          await pub.client.publishAsync(`${p}/b`, 'B', {qos: 2, retain: true})
          const sub = await js()
          await sub.client.subscribeAsync(`${p}/+`, {qos: 1})
          const got = (await sub.inbox.take(2)).sort((x, y) => x.topic.localeCompare(y.topic))
          assert.deepEqual(
            got.map((m) => [m.topic, m.payload.toString(), m.packet.retain, m.packet.qos]),
            [
              [`${p}/a`, 'A', true, 1],
              [`${p}/b`, 'B', true, 1],
            ],
          )
        })

        it('replaces a retained message with a newer one, and clears it with an empty payload', async function () {
          const topic = uid('r')
          const pub = await js()
          await pub.client.publishAsync(topic, 'v1', {qos: 1, retain: true})
          await pub.client.publishAsync(topic, 'v2', {qos: 1, retain: true})
          const sub = await js()
          await sub.client.subscribeAsync(topic, {qos: 1})
          await pub.client.publishAsync(topic, 'marker', {qos: 1})
          assert.deepEqual(
            (await sub.inbox.take(2)).map((m) => [m.payload.toString(), m.packet.retain]),
            [
              ['v2', true],
              ['marker', false],
            ],
          )

          await pub.client.publishAsync(topic, '', {qos: 1, retain: true})
          const late = await js()
          await late.client.subscribeAsync(topic, {qos: 1})
          await pub.client.publishAsync(topic, 'marker 2', {qos: 1})
          assert.equal((await late.inbox.one()).payload.toString(), 'marker 2', 'the cleared retained message was delivered')
        })

        it(`delivers a retained PUBLISH to existing subscribers with retain 0${v5 ? ', or as published with retain-as-published' : ''}`, async function () {
          const topic = uid('r')
          const plain = await js()
          await plain.client.subscribeAsync(topic, {qos: 1})
          const rap = v5 ? await js() : undefined
          if (rap) await rap.client.subscribeAsync(topic, {qos: 1, rap: true})
          const pub = await js()
          await pub.client.publishAsync(topic, 'retained', {qos: 1, retain: true})
          await pub.client.publishAsync(topic, 'plain', {qos: 1})
          assert.deepEqual(
            (await plain.inbox.take(2)).map((m) => [m.payload.toString(), m.packet.retain]),
            [
              ['retained', false],
              ['plain', false],
            ],
          )
          if (rap) {
            assert.deepEqual(
              (await rap.inbox.take(2)).map((m) => [m.payload.toString(), m.packet.retain]),
              [
                ['retained', true],
                ['plain', false],
              ],
            )
          }
        })

        if (v5) {
          it('retain handling 0 sends retained messages on every subscribe, 1 only for a new subscription, 2 never', async function () {
            const topic = uid('rh')
            const pub = await js()
            await pub.client.publishAsync(topic, 'kept', {qos: 1, retain: true})
            const marker = async (c: JsClient, n: number): Promise<string[]> => {
              await pub.client.publishAsync(topic, `marker ${n}`, {qos: 1})
              const out: string[] = []
              for (let i = 0; i < 5; i++) {
                const m = await c.inbox.one()
                out.push(m.payload.toString())
                if (m.payload.toString() === `marker ${n}`) return out
              }
              return out
            }

            const rh0 = await js()
            await rh0.client.subscribeAsync(topic, {qos: 1, rh: 0})
            await rh0.client.subscribeAsync(topic, {qos: 1, rh: 0})
            assert.deepEqual(await marker(rh0, 0), ['kept', 'kept', 'marker 0'])

            const rh1 = await js()
            await rh1.client.subscribeAsync(topic, {qos: 1, rh: 1})
            await rh1.client.subscribeAsync(topic, {qos: 1, rh: 1})
            assert.deepEqual(await marker(rh1, 1), ['kept', 'marker 1'])

            const rh2 = await js()
            await rh2.client.subscribeAsync(topic, {qos: 1, rh: 2})
            assert.deepEqual(await marker(rh2, 2), ['marker 2'])
          })
        }
      })
    })
  }
}
