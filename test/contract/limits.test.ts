/**
 * Broker contract, flow control and limits over TCP and WebSocket: offline queue caps by
 * count and bytes with both drop policies and their counters, topic length and levels,
 * connections per listener, and slow consumers (QoS 0 dropped past maxOutputBytes, QoS 1
 * held in the session queue, disconnected after drainTimeoutMs) while a fast client on the
 * same topic keeps getting everything.
 */
import assert from 'node:assert/strict'
import type {Scheme} from '../../src/core/config.js'
import type {TestBroker} from '../helpers/broker.js'
import {Tracker, brokerClosed, connectWire, expectViolation, openJs, rawPeer, rawPublish, rawSubscribe, uid, withBroker, within} from '../helpers/contract.js'
import type {JsClient} from '../helpers/contract.js'
import {hex} from '../helpers/raw.js'

const SCHEMES: readonly Scheme[] = ['mqtt', 'ws']
const PINGREQ = hex('c0 00')

for (const scheme of SCHEMES) {
  describe(`limits over ${scheme}`, function () {
    const t = new Tracker()
    afterEach(() => t.closeAll())

    /** A persistent subscriber that goes offline; returns how to bring it back. */
    async function offlineSubscriber(b: TestBroker, topic: string): Promise<() => Promise<JsClient>> {
      const id = uid()
      const opts = {clientId: id, protocolVersion: 5 as const, clean: false, properties: {sessionExpiryInterval: 60}}
      const c = await openJs(t, b.urls[scheme], opts)
      await c.client.subscribeAsync(topic, {qos: 1})
      const gone = brokerClosed(b.broker, id)
      await c.client.endAsync()
      await gone
      return () => openJs(t, b.urls[scheme], opts)
    }

    describe('offline queue', function () {
      for (const [policy, kept] of [
        ['drop-oldest', ['m3', 'm4', 'm5']],
        ['drop-newest', ['m1', 'm2', 'm3']],
      ] as const) {
        it(`keeps maxQueuedMessages (3) and drops with ${policy}, counting the drops`, async function () {
          await withBroker(t, {limits: {maxQueuedMessages: 3, queueOverflow: policy}}, async (b) => {
            const topic = uid('q')
            const back = await offlineSubscriber(b, topic)
            const pub = await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5})
            for (let i = 1; i <= 5; i++) await pub.client.publishAsync(topic, `m${i}`, {qos: 1})
            assert.equal(b.broker.metrics.queueDropped, 2)
            const c = await back()
            assert.deepEqual(
              (await c.inbox.take(3)).map((m) => m.payload.toString()),
              kept,
            )
            await pub.client.publishAsync(topic, 'live', {qos: 1})
            assert.equal((await c.inbox.one()).payload.toString(), 'live', 'nothing else was queued')
          })
        })
      }

      it('keeps at most maxQueuedBytes (topic + payload) per session', async function () {
        // Each message is 1 (topic "q") + 10 bytes: 3 fit in 35 bytes, not 4.
        await withBroker(t, {limits: {maxQueuedBytes: 35}}, async (b) => {
          const back = await offlineSubscriber(b, 'q')
          const pub = await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5})
          for (let i = 0; i < 5; i++) await pub.client.publishAsync('q', `message-${i}.`.slice(0, 10), {qos: 1})
          assert.equal(b.broker.metrics.queueDropped, 2)
          const c = await back()
          assert.deepEqual(
            (await c.inbox.take(3)).map((m) => m.payload.toString()),
            ['message-2.', 'message-3.', 'message-4.'],
          )
          const session = b.broker.sessionState(c.client.options.clientId!)
          assert.equal(session?.dropped, 2)
        })
      })
    })

    describe('topics', function () {
      it('refuses a PUBLISH topic over maxTopicLength (DISCONNECT 0x90) and a filter over it (SUBACK 0x8F)', async function () {
        await withBroker(t, {limits: {maxTopicLength: 16}}, async (b) => {
          const {wire} = await connectWire(t, b, scheme, 5)
          assert.deepEqual(await rawSubscribe(wire, ['a'.repeat(16), 'a'.repeat(17), `${'é'.repeat(8)}/`]), [0, 0x8f, 0x8f])
          wire.send(rawPublish(5, {topic: 'b'.repeat(16)}))
          wire.send(PINGREQ)
          await wire.expect('pingresp')
          wire.send(rawPublish(5, {topic: 'b'.repeat(17)}))
          await expectViolation(wire, 0x90)
        })
      })

      it('refuses more than maxTopicLevels levels the same way', async function () {
        await withBroker(t, {limits: {maxTopicLevels: 3}}, async (b) => {
          const {wire} = await connectWire(t, b, scheme, 4)
          assert.deepEqual(await rawSubscribe(wire, ['a/b/c', 'a/b/c/d', '+/+/#', '$share/g/a/b/c']), [0, 0x80, 0, 0])
          wire.send(rawPublish(4, {topic: 'a/b/c/d'}))
          await expectViolation(wire, undefined)
        })
      })
    })

    it('closes new sockets past maxConnections per listener at once; the others stay served', async function () {
      await withBroker(t, {limits: {maxConnections: 2}}, async (b) => {
        const a = await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5})
        const {wire: w} = await connectWire(t, b, scheme, 5)
        const third = t.raw(await rawPeer(b, scheme))
        await within(third.closed, 3000, 'the third socket to be closed')
        assert.equal(third.received().length, 0)
        assert.equal(b.broker.metrics.connectionsRefused, 1)
        const stats = b.broker.servers.find((l) => l.info.scheme === scheme)!.stats
        assert.equal(stats.rejected['max-connections'], 1)
        // The connected ones work; once one leaves there is room again.
        w.send(PINGREQ)
        await w.expect('pingresp')
        const gone = brokerClosed(b.broker, a.client.options.clientId!)
        await a.client.endAsync()
        await gone
        await connectWire(t, b, scheme, 4)
      })
    })

    describe('slow consumers', function () {
      const LIMITS = {maxOutputBytes: 64 * 1024, drainTimeoutMs: 400}
      const payload = Buffer.alloc(32 * 1024, 0x61)
      /**
       * Congestion is judged at the start of each event-loop turn, so the buffer holds at most
       * maxOutputBytes plus what one turn produced: here at most one batch of 20 messages.
       */
      const BOUND = LIMITS.maxOutputBytes + 21 * (payload.length + 100)

      /**
       * A subscriber that stops reading, a fast MQTT.js subscriber on the same topic, and a
       * publisher that sends until the broker marks the slow one congested (bounded).
       */
      async function scenario(b: TestBroker, qos: 0 | 1): Promise<{fast: JsClient; slowId: string; sent: number}> {
        const topic = uid('slow')
        const slowId = uid('slow')
        // Receive Maximum 65535: its window does not stop QoS 1 before the socket does.
        const {wire: slow} = await connectWire(t, b, scheme, 5, {clientId: slowId, properties: {receiveMaximum: 65535}})
        assert.deepEqual(await rawSubscribe(slow, [{topic, qos}]), [qos])
        const fast = await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5})
        await fast.client.subscribeAsync(topic, {qos})
        const pub = await openJs(t, b.urls.mqtt, {clientId: uid(), protocolVersion: 5})
        // Stop reading: the kernel buffers fill, then the broker's output buffer.
        if (slow.peer.ws) slow.peer.ws.pause()
        else slow.peer.socket!.pause()
        let sent = 0
        const congested = (): boolean => b.broker.clients.get(slowId)?.congested === true
        for (; sent < 2000 && !congested(); sent++) {
          await pub.client.publishAsync(topic, payload, {qos})
          if (sent % 20 === 19) await fast.inbox.take(20, 5000)
        }
        assert.ok(congested(), `the slow subscriber was not congested after ${sent} messages of 32 KiB`)
        // The fast subscriber got everything so far, and keeps getting messages.
        await fast.inbox.take(sent % 20, 5000)
        for (let i = 0; i < 10; i++) await pub.client.publishAsync(topic, payload, {qos})
        await fast.inbox.take(10, 5000)
        return {fast, slowId, sent: sent + 10}
      }

      it('QoS 0: drops what a congested client cannot take, disconnects it after drainTimeoutMs, and never holds up a fast client', async function () {
        await withBroker(t, {limits: LIMITS}, async (b) => {
          const client = (id: string) => b.broker.clients.get(id)
          const {slowId} = await scenario(b, 0)
          assert.ok(b.broker.metrics.slowConsumerDropped >= 10, `dropped ${b.broker.metrics.slowConsumerDropped}`)
          const buffered = client(slowId)!.stream.writableLength
          assert.ok(buffered < BOUND, `the output buffer stays bounded (${buffered} bytes)`)
          await brokerClosed(b.broker, slowId, 5000)
          assert.equal(b.broker.metrics.slowConsumerDisconnects, 1)
        })
      })

      it('QoS 1: holds messages for a congested client in its session queue, not in the socket', async function () {
        await withBroker(t, {limits: {...LIMITS, drainTimeoutMs: 0, maxInflight: 65535}}, async (b) => {
          const {slowId} = await scenario(b, 1)
          const c = b.broker.clients.get(slowId)!
          assert.ok(c.session!.queuedCount >= 10, `queued ${c.session!.queuedCount}`)
          assert.ok(c.stream.writableLength < BOUND, `the output buffer stays bounded (${c.stream.writableLength} bytes)`)
          assert.equal(b.broker.metrics.slowConsumerDisconnects, 0, 'drainTimeoutMs 0 never disconnects')
        })
      })
    })
  })
}
