/**
 * The client engine's side of the protocol, byte for byte, against a scripted broker:
 * QoS 1 and 2 exchanges in both directions, Receive Maximum, keepalive and the missing
 * PINGRESP, server DISCONNECT, topic aliases, the broker's maximum packet size, and what
 * happens to messages in flight when the connection drops.
 */
import assert from 'node:assert/strict'
import {mock} from 'node:test'
import mqttPacket from 'mqtt-packet'
import type {IPubackPacket, IPublishPacket, Packet} from 'mqtt-packet'
import {MqttClient} from '../../../src/core/client/client.js'
import type {ClientOptions} from '../../../src/core/client/types.js'
import {ErrorCode, MqttwsError, RefusedError, TimeoutError, TransportError} from '../../../src/core/errors.js'
import {startBroker} from '../../helpers/broker.js'
import {useClientSuite} from '../../helpers/client-suite.js'
import {uid, within} from '../../helpers/contract.js'
import {hex} from '../../helpers/raw.js'
import {connackBytes, nextMessages} from './fake-broker.js'
import type {FakeConnection} from './fake-broker.js'

const gen5 = (p: Packet): Buffer => mqttPacket.generate(p, {protocolVersion: 5})
const gen4 = (p: Packet): Buffer => mqttPacket.generate(p, {protocolVersion: 4})
const isPublish = (p: Packet): p is IPublishPacket => p.cmd === 'publish'
const count = (conn: FakeConnection, cmd: string): number => conn.packets.filter((p) => p.cmd === cmd).length

/** Settles with the error (or undefined) of a publish callback. */
function published(client: MqttClient, topic: string, payload: string, qos: 0 | 1 | 2): {done: Promise<{error?: Error; code: number}>; settled: () => boolean} {
  let settled = false
  const done = new Promise<{error?: Error; code: number}>((resolve) =>
    client.publish(topic, payload, {qos}, (error, code) => {
      settled = true
      resolve({error, code})
    }),
  )
  return {done, settled: () => settled}
}

describe('MqttClient protocol details (scripted broker)', function () {
  const suite = useClientSuite()

  /** A fake broker that accepts every CONNECT with `connack`, and a client connected to it. */
  async function setup(version: 4 | 5, connack = connackBytes(version), o: Partial<ClientOptions> = {}): Promise<{client: MqttClient; conn: FakeConnection}> {
    const fake = await suite.fake({onConnect: (c) => c.send(connack)})
    const client = await suite.connect({url: fake.url, protocolVersion: version, connectTimeoutMs: 5000, ...o})
    return {client, conn: await fake.nextConnection()}
  }

  describe('QoS exchanges', function () {
    it('QoS 1 out: PUBLISH with a packet id, done on PUBACK with its reason code', async function () {
      const {client, conn} = await setup(5)
      const p = published(client, 'q1', 'one', 1)
      const pub = (await conn.waitFor('PUBLISH', isPublish)) as IPublishPacket
      assert.equal(pub.qos, 1)
      assert.ok((pub.messageId ?? 0) > 0)
      assert.equal(p.settled(), false)
      conn.send(gen5({cmd: 'puback', messageId: pub.messageId, reasonCode: 0x10}))
      assert.deepEqual(await p.done, {error: undefined, code: 0x10})
    })

    it('QoS 1 out refused (PUBACK >= 0x80): a RefusedError with the code and reason string', async function () {
      const {client, conn} = await setup(5)
      const p = published(client, 'q1', 'one', 1)
      const pub = (await conn.waitFor('PUBLISH', isPublish)) as IPublishPacket
      conn.send(gen5({cmd: 'puback', messageId: pub.messageId, reasonCode: 0x87, properties: {reasonString: 'no writes here'}}))
      const {error, code} = await p.done
      assert.equal(code, 0x87)
      assert.ok(error instanceof RefusedError)
      assert.equal(error.reasonCode, 0x87)
      assert.match(error.message, /PUBACK refused with 0x87 not authorized: no writes here/)
    })

    it('QoS 2 out: PUBLISH → PUBREC → PUBREL (bytes 62 02 id) → PUBCOMP, done only on PUBCOMP', async function () {
      const {client, conn} = await setup(4)
      const p = published(client, 'q2', 'two', 2)
      const pub = (await conn.waitFor('PUBLISH', isPublish)) as IPublishPacket
      assert.equal(pub.qos, 2)
      const id = pub.messageId!
      const at = conn.packets.length
      conn.send(hex(`50 02 ${id.toString(16).padStart(4, '0')}`))
      const rel = await conn.waitFor('PUBREL', (x) => x.cmd === 'pubrel', at)
      assert.equal((rel as IPubackPacket).messageId, id)
      assert.equal(p.settled(), false, 'not done before PUBCOMP')
      conn.send(hex(`70 02 ${id.toString(16).padStart(4, '0')}`))
      assert.deepEqual(await p.done, {error: undefined, code: 0})
    })

    it('QoS 2 out refused at PUBREC (>= 0x80): no PUBREL, a RefusedError', async function () {
      const {client, conn} = await setup(5)
      const p = published(client, 'q2', 'two', 2)
      const pub = (await conn.waitFor('PUBLISH', isPublish)) as IPublishPacket
      conn.send(gen5({cmd: 'pubrec', messageId: pub.messageId, reasonCode: 0x97}))
      const {error, code} = await p.done
      assert.equal(code, 0x97)
      assert.ok(error instanceof RefusedError)
      // A barrier: a SUBSCRIBE sent now arrives after any PUBREL would have.
      void client.subscribe([{topic: 'barrier', qos: 0}]).catch(() => {})
      await conn.waitFor('SUBSCRIBE', (x) => x.cmd === 'subscribe')
      assert.equal(count(conn, 'pubrel'), 0)
    })

    it('QoS 1 in: the message is handed over and PUBACK sent with its packet id', async function () {
      const {client, conn} = await setup(4)
      const inbox = nextMessages(client, 1)
      conn.send(gen4({cmd: 'publish', topic: 'in/1', payload: Buffer.from('x'), qos: 1, messageId: 300, retain: false, dup: false}))
      const [msg] = await inbox
      assert.equal(msg.qos, 1)
      const ack = await conn.waitFor('PUBACK', (x) => x.cmd === 'puback')
      assert.equal((ack as IPubackPacket).messageId, 300)
    })

    it('QoS 2 in: handed over once, PUBREC for every copy, PUBCOMP on PUBREL; unknown PUBREL gets PUBCOMP 0x92', async function () {
      const {client, conn} = await setup(5)
      const seen: IPublishPacket[] = []
      client.on('message', (p) => seen.push(p))
      const publish = {cmd: 'publish', topic: 'in/2', payload: Buffer.from('once'), qos: 2, messageId: 7, retain: false, dup: false} as const
      conn.send(gen5(publish))
      await conn.waitFor('PUBREC', (x) => x.cmd === 'pubrec')
      conn.send(gen5({...publish, dup: true}))
      await conn.waitFor('second PUBREC', (x) => x.cmd === 'pubrec', conn.packets.findIndex((x) => x.cmd === 'pubrec') + 1)
      assert.equal(seen.length, 1, 'a resent QoS 2 PUBLISH is not handed over twice')
      conn.send(gen5({cmd: 'pubrel', messageId: 7, reasonCode: 0}))
      const comp = (await conn.waitFor('PUBCOMP', (x) => x.cmd === 'pubcomp')) as IPubackPacket
      assert.equal(comp.messageId, 7)
      assert.equal(comp.reasonCode ?? 0, 0)
      conn.send(gen5({cmd: 'pubrel', messageId: 8, reasonCode: 0}))
      const unknown = (await conn.waitFor('PUBCOMP 8', (x) => x.cmd === 'pubcomp' && (x as {messageId?: number}).messageId === 8)) as IPubackPacket
      assert.equal(unknown.reasonCode, 0x92)
      // After PUBREL, the same id starts a new message.
      conn.send(gen5({...publish, payload: Buffer.from('again')}))
      await within(
        new Promise<void>((resolve) => client.once('message', () => resolve())),
        5000,
        'the next message with the reused id',
      )
      assert.deepEqual(seen.map((p) => String(p.payload)), ['once', 'again'])
    })

    it('resolves an inbound topic alias (MQTT 5)', async function () {
      const {client, conn} = await setup(5)
      const inbox = nextMessages(client, 2)
      conn.send(gen5({cmd: 'publish', topic: 'long/topic/name', payload: Buffer.from('1'), qos: 0, retain: false, dup: false, properties: {topicAlias: 3}}))
      conn.send(gen5({cmd: 'publish', topic: '', payload: Buffer.from('2'), qos: 0, retain: false, dup: false, properties: {topicAlias: 3}}))
      assert.deepEqual((await inbox).map((p) => p.topic), ['long/topic/name', 'long/topic/name'])
    })
  })

  describe('Receive Maximum', function () {
    it('keeps at most the broker\'s Receive Maximum of QoS 1/2 PUBLISHes in flight, queueing the rest in order', async function () {
      // CONNACK with property 0x21 Receive Maximum = 2.
      const {client, conn} = await setup(5, connackBytes(5, 0, hex('21 00 02')))
      const results: Array<Promise<{error?: Error; code: number}>> = []
      for (let i = 0; i < 5; i++) results.push(published(client, 'rm', `m${i}`, i % 2 === 0 ? 1 : 2).done)
      // A barrier: SUBSCRIBE is never queued, so once it arrives every PUBLISH written before it has too.
      void client.subscribe([{topic: 'barrier', qos: 0}]).catch(() => {})
      await conn.waitFor('SUBSCRIBE', (x) => x.cmd === 'subscribe')
      assert.deepEqual(conn.packets.filter(isPublish).map((p) => String(p.payload)), ['m0', 'm1'])
      // Acknowledge m0 (QoS 1): exactly one more goes out.
      const [m0, m1] = conn.packets.filter(isPublish)
      conn.send(gen5({cmd: 'puback', messageId: m0.messageId, reasonCode: 0}))
      await conn.waitFor('m2', (x) => isPublish(x) && String(x.payload) === 'm2')
      // m1 is QoS 2: PUBREC keeps it in flight (PUBREL pending), so nothing new until PUBCOMP.
      conn.send(gen5({cmd: 'pubrec', messageId: m1.messageId, reasonCode: 0}))
      await conn.waitFor('PUBREL', (x) => x.cmd === 'pubrel')
      void client.unsubscribe(['barrier']).catch(() => {})
      await conn.waitFor('UNSUBSCRIBE', (x) => x.cmd === 'unsubscribe')
      assert.equal(conn.packets.filter(isPublish).length, 3)
      conn.send(gen5({cmd: 'pubcomp', messageId: m1.messageId, reasonCode: 0}))
      await conn.waitFor('m3', (x) => isPublish(x) && String(x.payload) === 'm3')
      // Acknowledge everything else as it arrives.
      for (const name of ['m2', 'm3', 'm4']) {
        const p = (await conn.waitFor(name, (x) => isPublish(x) && String(x.payload) === name)) as IPublishPacket
        conn.send(gen5(p.qos === 1 ? {cmd: 'puback', messageId: p.messageId, reasonCode: 0} : {cmd: 'pubrec', messageId: p.messageId, reasonCode: 0}))
        if (p.qos === 2) {
          await conn.waitFor(`PUBREL ${name}`, (x) => x.cmd === 'pubrel' && (x as {messageId?: number}).messageId === p.messageId)
          conn.send(gen5({cmd: 'pubcomp', messageId: p.messageId, reasonCode: 0}))
        }
      }
      const settled = await Promise.all(results)
      assert.deepEqual(settled.map((r) => r.error), [undefined, undefined, undefined, undefined, undefined])
      assert.deepEqual(conn.packets.filter(isPublish).map((p) => String(p.payload)), ['m0', 'm1', 'm2', 'm3', 'm4'])
    })

    it('against the mqttws broker advertising receiveMaximum 2: 40 QoS 1/2 messages all acknowledged, none refused', async function () {
      const tb = await startBroker({limits: {receiveMaximum: 2}})
      try {
        const client = await suite.connect({url: tb.urls.mqtt})
        assert.equal(client.connack?.properties?.receiveMaximum, 2)
        const topic = uid('rm')
        await client.subscribe([{topic, qos: 2}])
        const inbox = nextMessages(client, 40)
        const codes = await Promise.all(Array.from({length: 40}, (_, i) => client.publishAsync(topic, String(i), {qos: i % 2 === 0 ? 1 : 2})))
        assert.equal(codes.filter((c) => c !== 0).length, 0)
        assert.deepEqual((await inbox).map((p) => Number(p.payload)), Array.from({length: 40}, (_, i) => i))
        await client.end()
      } finally {
        await tb.close()
      }
    })
  })

  describe('keepalive', function () {
    afterEach(() => mock.timers.reset())

    it('sends PINGREQ when idle, and carries on after PINGRESP', async function () {
      const {conn} = await setup(4, connackBytes(4), {keepalive: 1})
      await conn.waitFor('PINGREQ', (x) => x.cmd === 'pingreq', 0, 4000)
      const at = conn.packets.length
      conn.send(hex('d0 00'))
      await conn.waitFor('a second PINGREQ', (x) => x.cmd === 'pingreq', at, 4000)
    })

    it('pings within one keepalive of its last packet, and gives up when no PINGRESP comes within a keepalive', async function () {
      mock.timers.enable({apis: ['setInterval']})
      const {client, conn} = await setup(4, connackBytes(4), {keepalive: 10})
      const closed = new Promise<Error | undefined>((resolve) => client.once('close', resolve))
      client.publish('busy', 'x')
      await conn.waitFor('PUBLISH', isPublish)
      mock.timers.tick(5000)
      assert.equal(count(conn, 'pingreq'), 0)
      // 10 s after the PUBLISH: MQTT allows no longer gap.
      mock.timers.tick(5000)
      await conn.waitFor('PINGREQ', (x) => x.cmd === 'pingreq')
      mock.timers.tick(5000)
      assert.equal(client.closed, false, 'half a keepalive without PINGRESP is fine')
      mock.timers.tick(5000)
      const error = await within(closed, 5000, 'the close')
      assert.ok(error instanceof TimeoutError)
      assert.match(error.message, /no PINGRESP within the keepalive of 10 s/)
    })

    it('does not ping while it keeps sending', async function () {
      mock.timers.enable({apis: ['setInterval']})
      const {client, conn} = await setup(4, connackBytes(4), {keepalive: 10})
      for (let i = 0; i < 4; i++) {
        client.publish('busy', String(i))
        await conn.waitFor(`PUBLISH ${i}`, (x) => isPublish(x) && String(x.payload) === String(i))
        mock.timers.tick(5000)
      }
      assert.equal(count(conn, 'pingreq'), 0)
    })
  })

  describe('the broker ends the connection', function () {
    it('surfaces a server DISCONNECT: the disconnect event, then close with its reason (a lost connection, not a refusal)', async function () {
      const {client, conn} = await setup(5)
      const disconnect = new Promise<Packet>((resolve) => client.once('disconnect', resolve))
      const closed = new Promise<Error | undefined>((resolve) => client.once('close', resolve))
      conn.send(gen5({cmd: 'disconnect', reasonCode: 0x8e, properties: {reasonString: 'another client took the id'}}))
      conn.end()
      assert.equal(((await within(disconnect, 5000, 'disconnect')) as {reasonCode?: number}).reasonCode, 0x8e)
      const error = await within(closed, 5000, 'close')
      assert.ok(error instanceof TransportError)
      assert.equal(error.code, ErrorCode.TRANSPORT)
      assert.equal(error.reasonCode, 0x8e)
      assert.match(error.message, /the broker disconnected us with 0x8e session taken over: another client took the id/)
    })

    it('fails messages in flight and queued when the connection drops', async function () {
      const {client, conn} = await setup(5, connackBytes(5, 0, hex('21 00 01')))
      const first = published(client, 'lost', 'a', 1)
      const queued = published(client, 'lost', 'b', 2)
      await conn.waitFor('PUBLISH', isPublish)
      conn.end()
      for (const p of [first, queued]) {
        const {error, code} = await within(p.done, 5000, 'the failed publish')
        assert.ok(error instanceof TransportError)
        assert.equal(code, 0x80)
        assert.match(error.message, /the broker closed the connection/)
      }
      await assert.rejects(client.subscribe([{topic: 'x', qos: 0}]), /not connected/)
    })

    it('closes on a malformed packet from the broker with a ProtocolError', async function () {
      const {client, conn} = await setup(4)
      const closed = new Promise<Error | undefined>((resolve) => client.once('close', resolve))
      conn.send(hex('32 01 00'))
      const error = await within(closed, 5000, 'close')
      assert.ok(error instanceof MqttwsError)
      assert.equal(error.code, ErrorCode.PROTOCOL)
      assert.match(error.message, /malformed packet from the broker/)
    })
  })

  describe('limits the broker announced in CONNACK', function () {
    it('refuses a topic alias above the broker\'s Topic Alias Maximum without sending it', async function () {
      // CONNACK with 0x22 Topic Alias Maximum = 2.
      const {client, conn} = await setup(5, connackBytes(5, 0, hex('22 00 02')))
      await client.publishAsync('a', 'ok', {qos: 0, properties: {topicAlias: 2}})
      await assert.rejects(client.publishAsync('a', 'no', {qos: 1, properties: {topicAlias: 3}}), (e: MqttwsError) => {
        assert.equal(e.code, ErrorCode.CONFIG)
        assert.match(e.message, /topic alias 3 is not allowed: the broker accepts aliases 1 to 2/)
        return true
      })
      void client.subscribe([{topic: 'barrier', qos: 0}]).catch(() => {})
      await conn.waitFor('SUBSCRIBE', (x) => x.cmd === 'subscribe')
      assert.deepEqual(conn.packets.filter(isPublish).map((p) => String(p.payload)), ['ok'])
    })

    it('refuses QoS above the broker\'s Maximum QoS and retain when Retain Available is 0, without sending them', async function () {
      // CONNACK with 0x24 Maximum QoS = 1 and 0x25 Retain Available = 0.
      const {client, conn} = await setup(5, connackBytes(5, 0, hex('24 01 25 00')))
      await assert.rejects(client.publishAsync('a', 'q2', {qos: 2}), (e: MqttwsError) => e.code === ErrorCode.CONFIG && /QoS 2 is not allowed: the broker's Maximum QoS is 1/.test(e.message))
      await assert.rejects(client.publishAsync('a', 'r', {qos: 0, retain: true}), /retained messages are not allowed: the broker does not support retain/)
      client.publish('a', 'fine', {qos: 0})
      void client.subscribe([{topic: 'barrier', qos: 0}]).catch(() => {})
      await conn.waitFor('SUBSCRIBE', (x) => x.cmd === 'subscribe')
      assert.deepEqual(conn.packets.filter(isPublish).map((p) => String(p.payload)), ['fine'])
    })

    it('refuses any topic alias when the broker announced none', async function () {
      const {client} = await setup(5)
      await assert.rejects(client.publishAsync('a', 'no', {properties: {topicAlias: 1}}), /the broker accepts no topic aliases/)
    })

    it('refuses a PUBLISH larger than the broker\'s Maximum Packet Size without sending it', async function () {
      // CONNACK with 0x27 Maximum Packet Size = 64.
      const {client, conn} = await setup(5, connackBytes(5, 0, hex('27 00 00 00 40')))
      await client.publishAsync('a', Buffer.alloc(20), {qos: 0})
      for (const qos of [0, 1] as const) {
        await assert.rejects(client.publishAsync('a', Buffer.alloc(100), {qos}), (e: MqttwsError) => {
          assert.equal(e.code, ErrorCode.PACKET_TOO_LARGE)
          assert.match(e.message, /larger than the broker's maximum packet size of 64 bytes/)
          return true
        })
      }
      void client.subscribe([{topic: 'barrier', qos: 0}]).catch(() => {})
      await conn.waitFor('SUBSCRIBE', (x) => x.cmd === 'subscribe')
      assert.equal(conn.packets.filter(isPublish).length, 1)
    })
  })
})
