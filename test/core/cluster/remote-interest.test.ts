import assert from 'node:assert/strict'
import {collect, startNode, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

/** Every node's filters are known to every other node (or it sends everything meanwhile). */
async function settled(nodes: ClusterNode[]): Promise<void> {
  await until(() => nodes.every((n) => n.bus.remote.stats().ready && n.bus.remote.stats().peers === nodes.length - 1), 'every node to know the others\u2019 filters')
}

describe('cluster: remote interest (a QoS 0 message goes to NATS only where it is wanted)', function () {
  this.timeout(60_000)
  const cluster = useCluster(['node-a', 'node-b', 'node-c'])
  const client = cluster.client
  let a: ClusterNode
  let b: ClusterNode
  let c: ClusterNode
  before(async () => {
    ;[a, b, c] = cluster.nodes
    await settled(cluster.nodes)
  })

  it('keeps a message on its node when no other node wants it, and stops sending once the other node unsubscribes', async () => {
    const local = await client(a.urls.mqtt)
    const gotLocal = collect(local)
    await local.subscribeAsync('u/#')
    const pub = await client(a.urls.mqtt)
    const remote = await client(b.urls.mqtt)
    const gotRemote = collect(remote)
    await remote.subscribeAsync('u/+')
    const sent0 = a.bus.stats.published
    for (let i = 0; i < 20; i++) pub.publish('u/x', 'wanted')
    await until(() => gotRemote.length === 20 && gotLocal.length === 20, '20 messages on both nodes')
    assert.equal(a.bus.stats.published - sent0, 20, 'node A sent the 20 messages node B wanted')
    await remote.unsubscribeAsync('u/+')
    await until(() => !a.bus.remote.wants('u/x'), 'node A to drop node B\u2019s filter')
    const sent1 = a.bus.stats.published
    const kept1 = a.bus.stats.keptLocal
    const receivedB = b.bus.stats.received
    const receivedC = c.bus.stats.received
    for (let i = 0; i < 20; i++) pub.publish('u/x', 'local')
    await until(() => gotLocal.length === 40, '20 more messages on node A')
    assert.equal(a.bus.stats.published - sent1, 0, 'node A sent none of them to NATS')
    assert.equal(a.bus.stats.keptLocal - kept1, 20)
    assert.equal(b.bus.stats.received - receivedB, 0)
    assert.equal(c.bus.stats.received - receivedC, 0)
    assert.equal(gotRemote.length, 20)
  })

  it('drops a filter on the other nodes when its last subscriber’s connection closes (no UNSUBSCRIBE)', async () => {
    const remote = await client(b.urls.mqtt)
    await remote.subscribeAsync('gone/#')
    assert.ok(a.bus.remote.wants('gone/x'))
    await remote.endAsync(true)
    await until(() => !a.bus.remote.wants('gone/x'), 'node A to drop the filter of the closed connection')
  })

  it('sends to NATS for a shared group, also one whose only members are on the publishing node', async () => {
    const pub = await client(a.urls.mqtt)
    const member = await client(a.urls.mqtt)
    const got = collect(member)
    await member.subscribeAsync('$share/g/sh/#')
    for (let i = 0; i < 10; i++) pub.publish('sh/x', String(i))
    await until(() => got.length === 10, '10 messages to the group member on node A')
    const remoteMember = await client(c.urls.mqtt)
    const gotRemote = collect(remoteMember)
    await remoteMember.subscribeAsync('$share/h/sh2/#')
    assert.ok(b.bus.remote.wants('sh2/x'), 'node B knows node C\u2019s shared group')
    const fromB = await client(b.urls.mqtt)
    fromB.publish('sh2/x', 'to C')
    await until(() => gotRemote.length === 1, 'the message from node B to the group on node C')
  })

  it('answers an MQTT 5 QoS 1 publish with 0x10 only when no node has a subscriber', async () => {
    const pub = await client(a.urls.mqtt, {protocolVersion: 5})
    const codes: number[] = []
    pub.on('packetreceive', (p) => p.cmd === 'puback' && codes.push(p.reasonCode ?? 0))
    await pub.publishAsync('nobody/here', 'x', {qos: 1})
    assert.deepEqual(codes, [0x10], 'no subscriber anywhere: 0x10 (no matching subscribers)')
    const sub = await client(c.urls.mqtt)
    const got = collect(sub)
    await sub.subscribeAsync('somebody/#', {qos: 1})
    await pub.publishAsync('somebody/here', 'x', {qos: 1})
    assert.deepEqual(codes, [0x10, 0], 'a subscriber on node C: success')
    await until(() => got.length === 1, 'the QoS 1 message on node C')
  })

  it('announces thousands of filters in parts (one SUBSCRIBE, then a node joining later)', async () => {
    const sub = await client(b.urls.mqtt)
    const filters = Array.from({length: 6000}, (_, i) => `bulk/${i}/${'x'.repeat(30)}/+`)
    await settled([a, b, c])
    await sub.subscribeAsync(filters)
    const wanted = (n: ClusterNode): boolean => n.bus.remote.wants(`bulk/0/${'x'.repeat(30)}/t`) && n.bus.remote.wants(`bulk/5999/${'x'.repeat(30)}/t`)
    // Node A wants them once the SUBACK came (if a late heartbeat put it in doubt meanwhile, it wants everything: still true).
    assert.ok(wanted(a), 'node A has the first and the last filter once the SUBACK came')
    await settled([a, b, c])
    const probe = (n: ClusterNode): boolean => wanted(n) && !n.bus.remote.wants(`bulk/6000/${'x'.repeat(30)}/t`)
    assert.ok(probe(a), 'node A has exactly those filters')
    const d = await startNode(cluster.nats.url, 'node-bulk')
    try {
      await settled([a, b, c, d])
      assert.ok(probe(d), 'node D got them in the snapshot')
    } finally {
      await d.close()
    }
    await sub.unsubscribeAsync(filters)
    await until(() => !a.bus.remote.wants(`bulk/0/${'x'.repeat(30)}/t`), 'node A to drop them')
  })

  it('gives a node that joins later every other node\u2019s filters (snapshot), and drops a node\u2019s filters when it leaves', async () => {
    const sub = await client(b.urls.mqtt)
    const got = collect(sub)
    await sub.subscribeAsync('late/#')
    const d = await startNode(cluster.nats.url, 'node-d')
    try {
      await settled([a, b, c, d])
      assert.ok(d.bus.remote.wants('late/x'), 'node D has node B\u2019s filter')
      assert.ok(!d.bus.remote.wants('elsewhere/x'))
      const pub = await client(d.urls.mqtt)
      const sent0 = d.bus.stats.published
      pub.publish('late/x', 'from D')
      pub.publish('elsewhere/x', 'nobody')
      await until(() => got.length === 1, 'the message from node D on node B')
      await until(() => d.bus.stats.keptLocal === 1, 'node D to keep the other message')
      assert.equal(d.bus.stats.published - sent0, 1)
      const dSub = await client(d.urls.mqtt)
      await dSub.subscribeAsync('only-d/#')
      assert.ok(a.bus.remote.wants('only-d/x'), 'node A has node D\u2019s filter once its SUBACK came')
    } finally {
      await d.close()
    }
    // A node closing says goodbye: the others drop its filters at once.
    await until(() => !a.bus.remote.wants('only-d/x'), 'node A to drop node D\u2019s filters')
    assert.ok(a.bus.remote.stats().ready)
  })
})
