import assert from 'node:assert/strict'
import {startAdmin} from '../../../src/core/admin/server.js'
import {collect, startNode, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

describe('cluster: routing between nodes through NATS', function () {
  this.timeout(30_000)
  const cluster = useCluster([['node-a', {limits: {allowReservedTopics: true}}], 'node-b', 'node-c'])
  const client = cluster.client
  let a: ClusterNode
  let b: ClusterNode
  let c: ClusterNode
  before(() => ([a, b, c] = cluster.nodes))

  it('delivers a message published on one node to the subscriptions on the others, once per subscription, in order', async () => {
    const pub = await client(a.urls.ws)
    const subB = await client(b.urls.mqtt)
    const subC = await client(c.urls.mqtt, {protocolVersion: 5})
    const gotB = collect(subB)
    const gotC = collect(subC)
    // Overlapping filters of one session: one delivery (two NATS subscriptions on node B).
    await subB.subscribeAsync(['t/#', 't/+'], {qos: 0})
    await subC.subscribeAsync('t/x', {qos: 0})
    for (let i = 0; i < 50; i++) pub.publish('t/x', String(i))
    pub.publish('t/end', 'end')
    await until(() => gotB.some((m) => m.topic === 't/end'), 'the last message on node B')
    await until(() => gotC.length === 50, 'the 50 messages on node C')
    assert.deepEqual(
      gotB.map((m) => m.payload),
      [...Array.from({length: 50}, (_, i) => String(i)), 'end'],
    )
    assert.deepEqual(
      gotC.map((m) => m.payload),
      Array.from({length: 50}, (_, i) => String(i)),
    )
    assert.ok(b.bus.stats.duplicates >= 50, `node B dropped the copies of its overlapping subscriptions (${b.bus.stats.duplicates})`)
  })

  it('sends a node none of the traffic of topics it has no subscribers to', async () => {
    const pub = await client(a.urls.mqtt)
    const sub = await client(b.urls.mqtt)
    const idle = await client(c.urls.mqtt)
    await idle.subscribeAsync('elsewhere/#')
    const got = collect(sub)
    await sub.subscribeAsync('busy/#')
    const beforeC = c.bus.stats.received
    const beforeB = b.bus.stats.received
    for (let i = 0; i < 200; i++) pub.publish(`busy/${i % 7}`, 'x')
    await until(() => got.length === 200, '200 messages on node B')
    assert.equal(b.bus.stats.received - beforeB, 200)
    assert.equal(c.bus.stats.received - beforeC, 0, 'node C, with no subscriber to busy/#, received none of it')
  })

  it('keeps every legal topic: empty levels, ".", spaces, "*", ">", "%" and unicode', async () => {
    const pub = await client(a.urls.mqtt)
    const sub = await client(b.urls.ws)
    const got = collect(sub)
    const topics = ['/', 'a//b', 'a.b/c.d', 'with space/ x ', '*/>', '%/%25', 'caf\u00e9/\u65e5\u672c/\u{1F600}', 'end']
    await sub.subscribeAsync('#')
    for (const t of topics) pub.publish(t, t)
    await until(() => got.length === topics.length, `${topics.length} messages`)
    assert.deepEqual(
      got.map((m) => m.topic),
      topics,
    )
    assert.deepEqual(
      got.map((m) => m.payload),
      topics,
    )
  })

  it('keeps $-topics out of # on every node, and delivers them to $ filters', async () => {
    const pub = await client(a.urls.mqtt)
    const all = await client(b.urls.mqtt)
    const dollar = await client(c.urls.mqtt)
    const gotAll = collect(all)
    const gotDollar = collect(dollar)
    await all.subscribeAsync(['#', '+/status'])
    await dollar.subscribeAsync('$app/#')
    pub.publish('$app/status', 'reserved')
    pub.publish('plain/status', 'plain')
    await until(() => gotAll.length >= 1 && gotDollar.length >= 1, 'both messages')
    await until(() => gotAll.some((m) => m.topic === 'plain/status'), 'the plain message')
    assert.deepEqual(
      gotAll.map((m) => m.topic),
      ['plain/status'],
    )
    assert.deepEqual(
      gotDollar.map((m) => m.topic),
      ['$app/status'],
    )
  })

  it('carries QoS, the retain flag and MQTT 5 properties across nodes', async () => {
    const pub = await client(a.urls.mqtt, {protocolVersion: 5})
    const sub = await client(b.urls.mqtt, {protocolVersion: 5})
    const got = collect(sub)
    await sub.subscribeAsync('props/#', {qos: 2, rap: true})
    await pub.publishAsync('props/x', 'hello', {
      qos: 1,
      retain: true,
      properties: {contentType: 'text/plain', responseTopic: 'reply/here', correlationData: Buffer.from([1, 2, 3]), userProperties: {k: 'v', multi: ['1', '2']}, payloadFormatIndicator: true, messageExpiryInterval: 60},
    })
    await until(() => got.length === 1, 'the message')
    const {packet} = got[0]
    assert.equal(packet.qos, 1)
    assert.equal(packet.retain, true)
    const p = packet.properties as Record<string, unknown>
    assert.equal(p.contentType, 'text/plain')
    assert.equal(p.responseTopic, 'reply/here')
    assert.deepEqual([...(p.correlationData as Buffer)], [1, 2, 3])
    assert.deepEqual({...(p.userProperties as object)}, {k: 'v', multi: ['1', '2']})
    assert.equal(p.payloadFormatIndicator, true)
    assert.ok((p.messageExpiryInterval as number) <= 60 && (p.messageExpiryInterval as number) >= 58)
    await pub.publishAsync('props/x', '', {retain: true})
  })

  it('takes a client id over across nodes: the old connection gets DISCONNECT 0x8E', async () => {
    const first = await client(a.urls.mqtt, {protocolVersion: 5, clientId: 'roaming-1'})
    const reason = new Promise<number | undefined>((resolve) => first.once('disconnect', (p) => resolve(p.reasonCode)))
    await client(b.urls.mqtt, {protocolVersion: 5, clientId: 'roaming-1'})
    assert.equal(await reason, 0x8e)
    await until(() => !a.broker.clients.has('roaming-1'), 'the client gone from node A')
    assert.ok(b.broker.clients.has('roaming-1'))
  })

  it('knows the cluster nodes from their heartbeats', async () => {
    await until(() => a.bus.describe().nodes.filter((n) => n.state === 'up').length === 3, 'three nodes up')
    const names = a.bus
      .describe()
      .nodes.map((n) => n.name)
      .sort()
    assert.deepEqual(names, ['node-a', 'node-b', 'node-c'])
    assert.equal(a.bus.describe().nodes[0].name, 'node-a')
  })

  it('shows the cluster in the admin API (GET /api/v1/cluster) and in $SYS/broker/cluster/…', async () => {
    await until(() => a.broker.cluster()!.nodes.filter((n) => n.state === 'up').length === 3, 'three nodes up')
    const admin = await startAdmin(a.broker, {host: '127.0.0.1', port: 0, token: 'cluster-test-token'})
    try {
      const res = await fetch(`${admin.url}/api/v1/cluster`, {headers: {authorization: 'Bearer cluster-test-token'}})
      assert.equal(res.status, 200)
      const body = (await res.json()) as {node: string; connected: boolean; nodes: Array<{name: string; state: string}>; stats: {received: number}}
      assert.equal(body.node, 'node-a')
      assert.equal(body.connected, true)
      assert.deepEqual(body.nodes.map((n) => `${n.name}:${n.state}`).sort(), ['node-a:up', 'node-b:up', 'node-c:up'])
      assert.equal(typeof body.stats.received, 'number')
    } finally {
      await admin.close()
    }
    // A node with $SYS on: its own view of the cluster, under $SYS/broker/cluster/.
    const d = await startNode(cluster.nats.url, 'node-d', {sysInterval: 1})
    try {
      await until(() => d.broker.cluster()!.nodes.filter((n) => n.state === 'up').length === 4, 'four nodes up')
      const sys = await client(d.urls.mqtt)
      const got = collect(sys)
      await sys.subscribeAsync('$SYS/broker/cluster/#')
      await until(() => got.some((m) => m.topic === '$SYS/broker/cluster/nodes/up' && m.payload === '4'), '$SYS/broker/cluster/nodes/up = 4', 15_000)
      assert.ok(got.some((m) => m.topic === '$SYS/broker/cluster/node' && m.payload === 'node-d'))
      assert.ok(got.some((m) => m.topic === '$SYS/broker/cluster/nodes/node-a/state' && m.payload === 'up'))
    } finally {
      await d.close()
    }
  })
})
