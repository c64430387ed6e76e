/**
 * The broker core's seams, end to end over real sockets: the Will checked like a PUBLISH
 * at CONNECT, the principal the checks see, asynchronous subscribe authorization,
 * acknowledgements held until a durable store commits (and refused when it fails),
 * sessions restored from a store at start, and the Bus every message goes through.
 */
import assert from 'node:assert/strict'
import type {Auth, Principal} from '../../src/core/broker/auth.js'
import type {Bus, BusNode} from '../../src/core/broker/bus.js'
import {LocalBus} from '../../src/core/broker/bus.js'
import type {ClientConnection} from '../../src/core/broker/connection.js'
import type {Message} from '../../src/core/broker/message.js'
import {MemorySessionStore} from '../../src/core/broker/session-store.js'
import {ErrorCode, ProtocolError} from '../../src/core/errors.js'
import {startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'
import {Tracker, VERSIONS, connectPacket, connectWire, openJs, openWire, rawPublish, rawSubscribe, uid, versionLabel, versionOptions} from '../helpers/contract.js'
import {hex} from '../helpers/raw.js'

/** Allows everything but publishing under forbidden/ (so also a Will there). */
function denyForbidden(seen: Principal[] = []): Auth {
  return {
    authenticate: async (c) => ({ok: true, principal: {username: c.username === 'root' ? 'admin' : c.username, superuser: c.username === 'root', attributes: {via: c.scheme}}}),
    canPublish: (p, topic) => {
      seen.push(p)
      return p.superuser || !topic.startsWith('forbidden/')
    },
    canSubscribe: (_p, _f, qos) => qos,
  }
}

/** A memory store that says it is durable and whose commits the test settles. */
class GatedStore extends MemorySessionStore {
  override readonly durable = true
  commits = 0
  fail: Error | undefined
  private gate: {resolve: () => void; promise: Promise<void>} | undefined

  hold(): void {
    let resolve!: () => void
    const promise = new Promise<void>((r) => (resolve = r))
    this.gate = {resolve, promise}
  }

  open(): void {
    this.gate?.resolve()
    this.gate = undefined
  }

  override commit(): Promise<void> | undefined {
    this.commits++
    const gate = this.gate?.promise ?? Promise.resolve()
    const fail = this.fail
    return gate.then(() => {
      if (fail) throw fail
    })
  }
}

describe('broker seams', function () {
  const t = new Tracker()
  afterEach(() => t.closeAll())

  describe('the Will is checked like a PUBLISH at CONNECT', function () {
    let tb: TestBroker
    const seen: Principal[] = []
    before(async () => {
      tb = await startBroker({}, {auth: denyForbidden(seen)})
    })
    after(() => tb.close())

    for (const version of VERSIONS) {
      it(`refuses a Will the client may not publish: MQTT ${versionLabel(version)} ${version === 5 ? 'CONNACK 0x87' : 'return code 5'}, and the Will is never published`, async function () {
        const watcher = await openJs(t, tb.urls.mqtt, {clientId: uid(), ...versionOptions(5)})
        await watcher.client.subscribeAsync('forbidden/#', {qos: 1})
        const errors: Error[] = []
        const onError = (_c: ClientConnection, e: Error): void => void errors.push(e)
        tb.broker.on('clientError', onError)
        const wire = await openWire(t, tb, 'mqtt', version)
        wire.send(connectPacket(version, {will: {topic: 'forbidden/w', payload: 'bye', qos: 1}}))
        const connack = await wire.expect('connack')
        tb.broker.off('clientError', onError)
        if (version === 5) assert.equal(connack.reasonCode, 0x87)
        else assert.equal(connack.returnCode, 5)
        await wire.closed()
        assert.ok(errors[0] instanceof ProtocolError, 'clientError is a ProtocolError')
        assert.equal((errors[0] as ProtocolError).reasonCode, 0x87)
        assert.equal((errors[0] as ProtocolError).code, ErrorCode.AUTH)
        await new Promise((r) => setTimeout(r, 100))
        assert.equal(watcher.inbox.all.length, 0, 'no Will was published')
      })
    }

    it('lets a superuser set that Will, and a client a Will elsewhere; the checks see the principal', async function () {
      const root = await openJs(t, tb.urls.ws, {clientId: uid(), username: 'root', will: {topic: 'forbidden/root', payload: Buffer.from('x'), qos: 0, retain: false}})
      assert.equal(root.client.connected, true)
      const before = seen.length
      const other = await openJs(t, tb.urls.mqtt, {clientId: uid(), username: 'u1', will: {topic: 'allowed/u1', payload: Buffer.from('x'), qos: 0, retain: false}})
      assert.equal(other.client.connected, true)
      const p = seen[before]
      assert.equal(p.username, 'u1')
      assert.equal(p.superuser, false)
      assert.deepEqual(p.attributes, {via: 'mqtt'})
      assert.ok(seen.some((x) => x.superuser && x.username === 'admin' && x.attributes?.via === 'ws'))
    })
  })

  describe('asynchronous subscribe authorization', function () {
    let tb: TestBroker
    before(async () => {
      const auth: Auth = {
        authenticate: async () => ({ok: true}),
        canPublish: () => true,
        canSubscribe: (_p, filter, qos) => new Promise((resolve) => setTimeout(() => resolve(filter.startsWith('no/') ? false : qos), 30)),
      }
      tb = await startBroker({}, {auth})
    })
    after(() => tb.close())

    for (const version of VERSIONS) {
      it(`answers SUBACK when the authorizer does, and what the client sent next waits for it (MQTT ${versionLabel(version)})`, async function () {
        const {wire} = await connectWire(t, tb, 'mqtt', version)
        const topic = uid('async')
        // SUBSCRIBE, then at once a PUBLISH to the topic: it must be routed to the new subscription.
        wire.send({cmd: 'subscribe', messageId: 1, subscriptions: [{topic, qos: 0}, {topic: 'no/x', qos: 1}]} as never)
        wire.send(rawPublish(version, {topic, payload: 'after', qos: 0}))
        const suback = await wire.expect('suback')
        assert.deepEqual(suback.granted, [0, version === 5 ? 0x87 : 0x80])
        const pub = await wire.expect('publish')
        assert.equal(pub.payload.toString(), 'after')
      })
    }
  })

  describe('acknowledgements wait for a durable store', function () {
    let tb: TestBroker
    let store: GatedStore
    beforeEach(async () => {
      store = new GatedStore()
      tb = await startBroker({}, {sessions: store})
    })
    afterEach(() => tb.close())

    for (const version of VERSIONS) {
      it(`holds PUBACK until the turn's commit resolves (MQTT ${versionLabel(version)})`, async function () {
        const {wire} = await connectWire(t, tb, 'mqtt', version)
        store.hold()
        wire.send(rawPublish(version, {topic: 'd/1', payload: 'x', qos: 1, id: 7}))
        await assert.rejects(wire.next(150), 'no PUBACK before the commit')
        store.open()
        const ack = await wire.expect('puback')
        assert.equal(ack.messageId, 7)
        assert.ok(store.commits > 0)
      })

      it(`refuses what the store failed to write and keeps serving (MQTT ${versionLabel(version)}: ${version === 5 ? 'PUBACK 0x80' : 'the publisher is disconnected'})`, async function () {
        const {wire: sub} = await connectWire(t, tb, 'mqtt', version)
        assert.deepEqual(await rawSubscribe(sub, ['f/#']), [0])
        const {wire} = await connectWire(t, tb, 'mqtt', version)
        const failures: Error[] = []
        tb.broker.on('storeError', (e) => failures.push(e))
        store.fail = new Error('ENOSPC: no space left on device')
        wire.send(rawPublish(version, {topic: 'f/1', payload: 'x', qos: 1, id: 9}))
        if (version === 5) {
          const ack = await wire.expect('puback')
          assert.equal(ack.reasonCode, 0x80)
        } else {
          await wire.closed()
        }
        // This test store fails every commit while `fail` is set, also those of turns that wrote nothing.
        assert.ok(failures.length >= 1)
        assert.match(failures[0].message, /ENOSPC/)
        assert.equal(tb.broker.metrics.storeErrors, failures.length)
        // The disk is back: QoS 0 and QoS 1 flow again.
        store.fail = undefined
        const {wire: again} = await connectWire(t, tb, 'mqtt', version)
        again.send(rawPublish(version, {topic: 'f/2', payload: 'y', qos: 1, id: 10}))
        assert.equal((await again.expect('puback')).messageId, 10)
        const got: string[] = []
        for (let i = 0; i < 2; i++) got.push((await sub.expect('publish')).payload.toString())
        assert.deepEqual(got, ['x', 'y'], 'the subscriber got both (delivery does not wait)')
      })
    }
  })

  describe('sessions restored from a store at start', function () {
    it('rebuilds the router from stored subscriptions; a message to an offline session is queued and delivered on return', async function () {
      const store = new MemorySessionStore()
      const state = store.create('restored', 3600)
      store.subscribe(state, 'r/+', {qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0})
      store.subscribe(state, '$share/g/s/x', {qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0})
      store.enqueue(state, {message: {cmd: 'publish', topic: 'r/old', payload: Buffer.from('stored'), qos: 1, retain: false, dup: false}, qos: 1, retain: false}, {maxQueuedMessages: 10, maxQueuedBytes: 1e6, queueOverflow: 'drop-oldest'})
      store.setDisconnectedAt(state, Date.now() - 1000)
      const tb = await startBroker({}, {sessions: store})
      try {
        assert.equal(tb.broker.subscribersOf('r/new'), 1)
        assert.deepEqual(tb.broker.sharedGroups(), ['$share/g/s/x'])
        const pub = await openJs(t, tb.urls.mqtt, {clientId: uid()})
        await pub.client.publishAsync('r/new', 'while away', {qos: 1})
        const back = await openJs(t, tb.urls.ws, {clientId: 'restored', ...versionOptions(5, true, 3600)})
        assert.equal(back.connack.sessionPresent, true)
        assert.deepEqual((await back.inbox.take(2)).map((m) => m.payload.toString()), ['stored', 'while away'])
      } finally {
        await tb.close()
      }
    })

    it('ends a session that expired while the broker was down, and publishes its delayed Will', async function () {
      const store = new MemorySessionStore()
      const state = store.create('expired', 10)
      store.subscribe(state, 'e/+', {qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0})
      store.setWill(state, {message: {cmd: 'publish', topic: 'wills/expired', payload: Buffer.from('gone'), qos: 1, retain: true, dup: false}, dueAt: Date.now() - 5000})
      store.setDisconnectedAt(state, Date.now() - 60_000)
      const tb = await startBroker({}, {sessions: store})
      try {
        assert.equal(tb.broker.sessionCount, 0)
        assert.equal(tb.broker.subscribersOf('e/x'), 0)
        const w = await openJs(t, tb.urls.mqtt, {clientId: uid()})
        await w.client.subscribeAsync('wills/#', {qos: 1})
        const [m] = await w.inbox.take(1)
        assert.equal(m.payload.toString(), 'gone')
        assert.equal(m.packet.retain, true, 'the Will was retained')
      } finally {
        await tb.close()
      }
    })
  })

  describe('every message goes through the Bus', function () {
    it('publishes to the Bus, which delivers to this node; interest follows subscriptions', async function () {
      const published: string[] = []
      const interest: string[] = []
      const claims: string[] = []
      class RecordingBus extends LocalBus implements Bus {
        override publish(message: Message, from: ClientConnection | null, wire: Buffer | undefined): number {
          published.push(message.topic)
          return super.publish(message, from, wire)
        }
        override addInterest(filter: string): void {
          interest.push(`+${filter}`)
        }
        override removeInterest(filter: string): void {
          interest.push(`-${filter}`)
        }
        override claim(clientId: string): void {
          claims.push(clientId)
        }
        override start(node: BusNode): Promise<void> {
          return super.start(node)
        }
      }
      const tb = await startBroker({}, {bus: new RecordingBus()})
      try {
        const sub = await openJs(t, tb.urls.mqtt, {clientId: 'bus-sub'})
        await sub.client.subscribeAsync(['b/+', '$share/g/b/#'], {qos: 0})
        const pub = await openJs(t, tb.urls.ws, {clientId: 'bus-pub'})
        await pub.client.publishAsync('b/1', 'hello', {qos: 1})
        assert.equal((await sub.inbox.take(2)).length, 2, 'the plain and the shared subscription')
        await sub.client.unsubscribeAsync(['b/+', '$share/g/b/#'])
        assert.deepEqual(published, ['b/1'])
        assert.deepEqual(interest, ['+b/+', '+b/#', '-b/+', '-b/#'])
        assert.deepEqual(claims, ['bus-sub', 'bus-pub'])
      } finally {
        await tb.close()
      }
    })
  })

  describe('acknowledgements must fit the stage of their packet id', function () {
    for (const version of VERSIONS) {
      it(`closes on a PUBREC for a QoS 1 message (MQTT ${versionLabel(version)}${version === 5 ? ': DISCONNECT 0x82' : ''}) and on a PUBCOMP before PUBREC`, async function () {
        const tb = await startBroker()
        try {
          for (const [ack, qos] of [[hex('50 02 00 01'), 1], [hex('70 02 00 01'), 2]] as const) {
            const {wire: sub} = await connectWire(t, tb, 'mqtt', version)
            const topic = uid('ack')
            assert.deepEqual(await rawSubscribe(sub, [{topic, qos}]), [qos])
            const {wire: pub} = await connectWire(t, tb, 'mqtt', version)
            pub.send(rawPublish(version, {topic, payload: 'x', qos, id: 3}))
            const got = await sub.expect('publish')
            assert.equal(got.messageId, 1)
            sub.send(ack)
            if (version === 5) assert.equal((await sub.expect('disconnect')).reasonCode, 0x82)
            await sub.closed()
          }
        } finally {
          await tb.close()
        }
      })
    }
  })
})
