import assert from 'node:assert/strict'
import {collect, startNode, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

describe('cluster: retained messages on every node', function () {
  this.timeout(60_000)
  const cluster = useCluster(['node-a', 'node-b'])
  const client = cluster.client

  it('serves a retained message published on one node to a subscriber on another, and on a node started later', async () => {
    const [a, b] = cluster.nodes
    const pub = await client(a.urls.mqtt, {protocolVersion: 5, clientId: 'ret-publisher'})
    await pub.publishAsync('ret/one', 'first', {qos: 1, retain: true, properties: {contentType: 'text/plain'}})
    await pub.publishAsync('ret/one', 'second', {qos: 1, retain: true})
    await pub.publishAsync('ret/two', 'other', {qos: 1, retain: true})
    await until(() => b.broker.retainedCount() === 2, 'two retained messages on node B')
    const sub = await client(b.urls.ws, {protocolVersion: 5})
    const got = collect(sub)
    await sub.subscribeAsync('ret/#', {qos: 1})
    await until(() => got.length === 2, 'two retained messages')
    assert.deepEqual(got.map((m) => `${m.topic}=${m.payload}`).sort(), ['ret/one=second', 'ret/two=other'])
    assert.ok(got.every((m) => m.packet.retain))
    // When it was stored and by whom travel with it (the admin API and the dashboard show them).
    const [kept] = await b.broker.retainedMessages('ret/one')
    assert.equal(kept.publisher, 'ret-publisher')
    assert.ok(typeof kept.storedAt === 'number' && kept.storedAt <= Date.now())

    // A node that joins later gets them from the stream before it serves.
    const c = await startNode(cluster.nats.url, 'node-c')
    cluster.nodes.push(c)
    assert.equal(c.broker.retainedCount(), 2)
    const late = await client(c.urls.mqtt)
    const gotLate = collect(late)
    await late.subscribeAsync('ret/one')
    await until(() => gotLate.length === 1, 'the retained message on node C')
    assert.equal(gotLate[0].payload, 'second')
  })

  it('clears a retained message on every node (an empty retained payload on any node)', async () => {
    const [a, b] = cluster.nodes
    const pub = await client(b.urls.mqtt)
    await pub.publishAsync('ret/gone', 'x', {qos: 1, retain: true})
    await until(() => cluster.nodes.every((n) => hasRetained(n, 'ret/gone')), 'ret/gone on every node')
    await pub.publishAsync('ret/gone', '', {qos: 1, retain: true})
    await until(() => cluster.nodes.every((n) => !hasRetained(n, 'ret/gone')), 'ret/gone cleared on every node')
    // The admin API's delete (Broker.deleteRetained) too.
    assert.ok(a.broker.deleteRetained('ret/two'))
    await until(() => !hasRetained(b, 'ret/two'), 'ret/two deleted on node B')
  })
})

function hasRetained(n: ClusterNode, topic: string): boolean {
  return (n.broker as unknown as {retained: {has(t: string): boolean}}).retained.has(topic)
}
