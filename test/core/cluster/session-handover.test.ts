import assert from 'node:assert/strict'
import type {IClientOptions, IDisconnectPacket, MqttClient} from 'mqtt'
import {persistentSession} from '../../helpers/mqttjs.js'
import {offlineRecord} from '../../helpers/nats.js'
import {startNode, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

const persistent = (clientId: string, v5 = true): IClientOptions => (v5 ? persistentSession(clientId) : {clientId, clean: false, protocolVersion: 4})

function ended(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()))
}

describe('cluster: a persistent session moves with its client to another node', function () {
  this.timeout(60_000)
  const cluster = useCluster(['node-a', 'node-b'])
  let a: ClusterNode
  let b: ClusterNode
  before(() => ([a, b] = cluster.nodes))

  it('a connected client reconnecting to B: A sends DISCONNECT 0x8E, B has the session (present, subscriptions kept)', async () => {
    const first = await cluster.connect(a.urls.mqtt, persistent('move-1'))
    assert.equal(first.connack.sessionPresent, false)
    await first.client.subscribeAsync('mv1/#', {qos: 1})
    const disconnect = new Promise<IDisconnectPacket>((resolve) => first.client.once('disconnect', resolve))
    const second = await cluster.connect(b.urls.mqtt, persistent('move-1'))
    assert.equal(second.connack.sessionPresent, true, 'CONNACK on B says session present')
    assert.equal((await disconnect).reasonCode, 0x8e, 'A closed the old connection with Session taken over')
    assert.equal(a.broker.sessionState('move-1'), undefined, 'A no longer holds the session')
    assert.deepEqual([...(b.broker.sessionState('move-1')?.subscriptions?.keys() ?? [])], ['mv1/#'])
    // The subscription works on B without subscribing again, for a publisher on either node.
    const pub = await cluster.connect(a.urls.ws, {})
    await pub.client.publishAsync('mv1/x', 'after', {qos: 1})
    await until(() => second.got.length === 1, 'the message on B')
    assert.deepEqual(second.got, [{topic: 'mv1/x', payload: 'after', qos: 1}])
  })

  it('an offline session: its queue (QoS 1 and 2) follows the client to B, in order', async () => {
    const first = await cluster.connect(a.urls.mqtt, persistent('move-2'))
    await first.client.subscribeAsync('mv2/#', {qos: 2})
    await ended(first.client)
    await until(() => a.broker.sessionState('move-2')?.disconnectedAt !== undefined, 'the session offline on A')
    const pub = await cluster.connect(b.urls.mqtt, {})
    for (let i = 0; i < 5; i++) await pub.client.publishAsync('mv2/q', `m${i}`, {qos: (1 + (i % 2)) as 1 | 2})
    await until(() => (a.broker.sessionState('move-2')?.queue?.length ?? 0) === 5, 'five messages queued on A')
    const second = await cluster.connect(b.urls.ws, persistent('move-2'))
    assert.equal(second.connack.sessionPresent, true)
    await until(() => second.got.length >= 5, 'the queued messages on B')
    // MQTT.js hands a QoS 2 message over at PUBREL, so the order is checked per QoS.
    assert.deepEqual(
      second.got.filter((m) => m.qos === 1).map((m) => m.payload),
      ['m0', 'm2', 'm4'],
    )
    assert.deepEqual(
      second.got.filter((m) => m.qos === 2).map((m) => m.payload),
      ['m1', 'm3'],
    )
    assert.equal(a.broker.sessionState('move-2'), undefined)
  })

  it('unacknowledged messages are sent again (DUP) by the new node', async () => {
    // A client that never acknowledges (MQTT.js sends PUBACK when this calls back).
    const first = await cluster.connect(a.urls.mqtt, {...persistent('move-3'), customHandleAcks: () => {}})
    let arrived = 0
    first.client.on('packetreceive', (p) => p.cmd === 'publish' && arrived++)
    await first.client.subscribeAsync('mv3/#', {qos: 1})
    const pub = await cluster.connect(a.urls.mqtt, {})
    await pub.client.publishAsync('mv3/x', 'unacked', {qos: 1})
    await until(() => arrived === 1, 'the message on A (not acknowledged)')
    assert.equal(a.broker.sessionState('move-3')?.inflight?.size, 1)
    const second = await cluster.connect(b.urls.mqtt, persistent('move-3'))
    assert.equal(second.connack.sessionPresent, true)
    await until(() => second.got.length === 1, 'the unacknowledged message on B')
    assert.equal(second.got[0].payload, 'unacked')
    assert.deepEqual(second.dups, [true])
    assert.equal(b.bus.describe().stats.sessionsReceived, 3, 'B took three sessions from A so far')
  })

  it('a clean start on B ends the session held on A', async () => {
    const first = await cluster.connect(a.urls.mqtt, persistent('move-4'))
    await first.client.subscribeAsync('mv4/#', {qos: 1})
    await ended(first.client)
    await until(() => a.broker.sessionState('move-4')?.disconnectedAt !== undefined, 'the session offline on A')
    const fresh = await cluster.connect(b.urls.mqtt, {clientId: 'move-4', clean: true, protocolVersion: 5})
    assert.equal(fresh.connack.sessionPresent, false)
    await until(() => a.broker.sessionState('move-4') === undefined, 'the session gone from A')
    await ended(fresh.client)
    // Nothing left anywhere to resume.
    const again = await cluster.connect(a.urls.mqtt, persistent('move-4'))
    assert.equal(again.connack.sessionPresent, false)
  })

  it('MQTT 3.1.1 clean session 0 moves too', async () => {
    const first = await cluster.connect(a.urls.mqtt, persistent('move-5', false))
    await first.client.subscribeAsync('mv5/#', {qos: 1})
    await ended(first.client)
    const pub = await cluster.connect(a.urls.mqtt, {})
    await pub.client.publishAsync('mv5/x', 'queued', {qos: 1})
    await until(() => (a.broker.sessionState('move-5')?.queue?.length ?? 0) === 1, 'queued on A')
    const second = await cluster.connect(b.urls.mqtt, persistent('move-5', false))
    assert.equal(second.connack.sessionPresent, true)
    await until(() => second.got.length === 1, 'the queued message on B')
  })
})

describe('cluster: the offline session of a node that is gone', function () {
  this.timeout(60_000)
  const cluster = useCluster(['node-b'])

  it('is taken from its record, with the messages stored since its client left', async () => {
    const [b] = cluster.nodes
    const a = await startNode(cluster.nats.url, 'node-a')
    try {
      const first = await cluster.connect(a.urls.mqtt, persistent('gone-1'))
      await first.client.subscribeAsync('gone/#', {qos: 1})
      await first.client.subscribeAsync('other/+', {qos: 1})
      const pub = await cluster.connect(a.urls.mqtt, {})
      // Sent while the client is away, on A's own node and from B.
      await ended(first.client)
      await until(() => a.broker.sessionState('gone-1')?.disconnectedAt !== undefined, 'the session offline on A')
      assert.ok(await offlineRecord(cluster.nats.url, 'gone-1'), 'the record says its client left')
      await pub.client.publishAsync('gone/1', 'from A', {qos: 1})
      const pubB = await cluster.connect(b.urls.mqtt, {})
      await pubB.client.publishAsync('gone/2', 'from B', {qos: 2})
      await pubB.client.publishAsync('unrelated', 'not for it', {qos: 1})
      await pubB.client.publishAsync('gone/3', 'qos 0 is not queued', {qos: 0})
      await until(() => (a.broker.sessionState('gone-1')?.queue?.length ?? 0) === 2, 'two messages queued on A')
    } finally {
      cluster.endClients()
      await a.close()
    }
    const second = await cluster.connect(b.urls.mqtt, persistent('gone-1'))
    assert.equal(second.connack.sessionPresent, true)
    await until(() => second.got.length >= 2, 'the queued messages on B')
    assert.deepEqual(
      second.got.map((m) => m.payload),
      ['from A', 'from B'],
    )
    assert.deepEqual([...(b.broker.sessionState('gone-1')?.subscriptions?.keys() ?? [])].sort(), ['gone/#', 'other/+'])
  })
})

describe('cluster: the session of a node that is gone, with a message unacknowledged when its client left', function () {
  this.timeout(60_000)
  const cluster = useCluster(['node-b'])

  it('gets that message once (sent again, DUP), then those stored since, in order', async () => {
    const [b] = cluster.nodes
    const a = await startNode(cluster.nats.url, 'node-a')
    try {
      // A client that never acknowledges: its message stays in flight, in the record written when it leaves.
      const first = await cluster.connect(a.urls.mqtt, {...persistent('gone-2'), customHandleAcks: () => {}})
      let arrived = 0
      first.client.on('packetreceive', (p) => p.cmd === 'publish' && arrived++)
      await first.client.subscribeAsync('gone2/#', {qos: 1})
      const pub = await cluster.connect(b.urls.mqtt, {})
      await pub.client.publishAsync('gone2/x', 'm0', {qos: 1})
      await until(() => arrived === 1, 'm0 on A')
      first.client.end(true)
      await until(() => a.broker.sessionState('gone-2')?.disconnectedAt !== undefined, 'the session offline on A')
      let recorded = false
      void offlineRecord(cluster.nats.url, 'gone-2').then((ok) => (recorded = ok))
      // The record with m0 is written at the end of that turn.
      await until(() => recorded, 'the record of the offline session')
      await pub.client.publishAsync('gone2/x', 'm1', {qos: 1})
      await pub.client.publishAsync('gone2/x', 'm2', {qos: 1})
      await until(() => (a.broker.sessionState('gone-2')?.queue?.length ?? 0) === 2, 'm1 and m2 queued on A')
    } finally {
      cluster.endClients()
      await a.close()
    }
    const second = await cluster.connect(b.urls.mqtt, persistent('gone-2'))
    assert.equal(second.connack.sessionPresent, true)
    await until(() => second.got.length >= 3, 'three messages on B')
    await new Promise((r) => setTimeout(r, 200))
    assert.deepEqual(
      second.got.map((m) => m.payload),
      ['m0', 'm1', 'm2'],
    )
    assert.deepEqual(second.dups, [true, false, false])
  })
})
