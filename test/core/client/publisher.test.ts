/**
 * publishAll (what `pub` does once connected): repeats, streamed input published as it
 * arrives, acknowledgements awaited at the end, the first refusal, and a connection lost
 * while waiting for the next line of input.
 */
import assert from 'node:assert/strict'
import {PassThrough} from 'node:stream'
import {createInterface} from 'node:readline'
import mqttPacket from 'mqtt-packet'
import type {IPublishPacket} from 'mqtt-packet'
import {MqttClient} from '../../../src/core/client/client.js'
import {publishAll} from '../../../src/core/client/publisher.js'
import type {SentMessage} from '../../../src/core/client/publisher.js'
import {PacketIdAllocator} from '../../../src/core/client/packet-id.js'
import {MemoryInflightStore} from '../../../src/core/client/inflight-store.js'
import {RefusedError, TransportError} from '../../../src/core/errors.js'
import {useClientSuite} from '../../helpers/client-suite.js'
import {uid, within} from '../../helpers/contract.js'
import {connackBytes, nextMessages} from './fake-broker.js'

const isPublish = (p: {cmd: string}): p is IPublishPacket => p.cmd === 'publish'

async function* linesOf(stream: PassThrough): AsyncIterable<Buffer> {
  for await (const line of createInterface({input: stream, crlfDelay: Infinity})) yield Buffer.from(line)
}

describe('publishAll', function () {
  const suite = useClientSuite({broker: true})
  const connect = (url?: string): Promise<MqttClient> => suite.connect({url})

  for (const qos of [0, 1, 2] as const) {
    it(`QoS ${qos}: every payload × repeat, in order, each reported once acknowledged`, async function () {
      const topic = uid('all')
      const sub = await connect()
      await sub.subscribe([{topic, qos: 2}])
      const inbox = nextMessages(sub, 6)
      const pub = await connect()
      const sent: SentMessage[] = []
      const n = await publishAll(pub, [Buffer.from('a'), Buffer.from('b')], {topic, qos, retain: false, repeat: 3}, (m) => sent.push(m))
      assert.equal(n, 6)
      assert.deepEqual(sent.map((m) => [String(m.payload), m.qos, m.reasonCode]), ['a', 'a', 'a', 'b', 'b', 'b'].map((p) => [p, qos, 0]))
      assert.deepEqual((await inbox).map((p) => String(p.payload)), ['a', 'a', 'a', 'b', 'b', 'b'])
    })
  }

  it('publishes streamed input as it arrives, not when the input ends', async function () {
    const topic = uid('stream')
    const sub = await connect()
    await sub.subscribe([{topic, qos: 1}])
    const pub = await connect()
    const input = new PassThrough()
    const running = publishAll(pub, linesOf(input), {topic, qos: 1, retain: false})
    for (const line of ['one', 'two', 'three']) {
      const next = nextMessages(sub, 1)
      input.write(`${line}\n`)
      assert.equal(String((await next)[0].payload), line)
    }
    input.end()
    assert.equal(await within(running, 5000, 'publishAll'), 3)
  })

  it('sends the MQTT 5 properties and retain flag of the plan', async function () {
    const topic = uid('props')
    const sub = await connect()
    await sub.subscribe([{topic, qos: 1, rap: true}])
    const inbox = nextMessages(sub, 1)
    const pub = await connect()
    await publishAll(pub, [Buffer.from('{}')], {topic, qos: 1, retain: true, properties: {contentType: 'application/json', userProperties: {k: 'v'}, correlationData: Buffer.from('cd')}})
    const [p] = await inbox
    assert.equal(p.retain, true)
    assert.equal(p.properties?.contentType, 'application/json')
    assert.deepEqual({...p.properties?.userProperties}, {k: 'v'})
    assert.equal(String(p.properties?.correlationData), 'cd')
  })

  it('rejects with the first refusal (PUBACK >= 0x80)', async function () {
    const fake = await suite.fake({onConnect: (c) => c.send(connackBytes(5))})
    const pub = await connect(fake.url)
    const conn = await fake.nextConnection()
    const running = publishAll(pub, [Buffer.from('x')], {topic: 't', qos: 1, retain: false})
    const p = (await conn.waitFor('PUBLISH', isPublish)) as IPublishPacket
    conn.send(mqttPacket.generate({cmd: 'puback', messageId: p.messageId, reasonCode: 0x97}, {protocolVersion: 5}))
    await assert.rejects(running, (e: RefusedError) => e instanceof RefusedError && e.reasonCode === 0x97)
  })

  it('rejects when the connection drops while it waits for the next line of input', async function () {
    const fake = await suite.fake({onConnect: (c) => c.send(connackBytes(5))})
    const pub = await connect(fake.url)
    const conn = await fake.nextConnection()
    const input = new PassThrough()
    const running = publishAll(pub, linesOf(input), {topic: 't', qos: 0, retain: false})
    input.write('first\n')
    await conn.waitFor('PUBLISH', isPublish)
    conn.end()
    await assert.rejects(within(running, 5000, 'publishAll to give up'), (e: Error) => e instanceof TransportError && /the broker closed the connection/.test(e.message))
    input.destroy()
  })

  it('waits for every acknowledgement before resolving', async function () {
    const fake = await suite.fake({onConnect: (c) => c.send(connackBytes(5))})
    const pub = await connect(fake.url)
    const conn = await fake.nextConnection()
    let done = false
    const running = publishAll(pub, [Buffer.from('1'), Buffer.from('2')], {topic: 't', qos: 1, retain: false}).then((n) => ((done = true), n))
    await conn.waitFor('2 PUBLISH', () => conn.packets.filter(isPublish).length === 2)
    const [a, b] = conn.packets.filter(isPublish)
    conn.send(mqttPacket.generate({cmd: 'puback', messageId: a.messageId, reasonCode: 0}, {protocolVersion: 5}))
    // A message sent after the PUBACK is handled after it; then let promise callbacks run.
    const barrier = nextMessages(pub, 1)
    conn.send(mqttPacket.generate({cmd: 'publish', topic: 'barrier', payload: Buffer.from('b'), qos: 0, retain: false, dup: false}, {protocolVersion: 5}))
    await barrier
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(done, false)
    conn.send(mqttPacket.generate({cmd: 'puback', messageId: b.messageId, reasonCode: 0}, {protocolVersion: 5}))
    assert.equal(await within(running, 5000, 'publishAll'), 2)
  })
})

describe('PacketIdAllocator and MemoryInflightStore', function () {
  it('allocates 1..65535, skips ids in use, wraps, and reports exhaustion with 0', function () {
    const ids = new PacketIdAllocator()
    assert.equal(ids.allocate(), 1)
    assert.equal(ids.allocate(), 2)
    ids.release(1)
    for (let i = 3; i <= 65535; i++) assert.equal(ids.allocate(), i)
    // Wraps to 1 (free again); 2 is still in use.
    assert.equal(ids.allocate(), 1)
    assert.equal(ids.inUse, 65535)
    assert.equal(ids.allocate(), 0)
    ids.release(40000)
    assert.equal(ids.allocate(), 40000)
  })

  it('stores entries by packet id', function () {
    const store = new MemoryInflightStore()
    store.set({packetId: 5, qos: 1, state: 'publish', encoded: Buffer.alloc(1), callback: undefined})
    assert.equal(store.size, 1)
    assert.equal(store.get(5)?.qos, 1)
    assert.deepEqual([...store.values()].map((e) => e.packetId), [5])
    assert.equal(store.delete(5), true)
    assert.equal(store.delete(5), false)
    assert.equal(store.size, 0)
  })
})
