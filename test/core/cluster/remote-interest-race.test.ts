import assert from 'node:assert/strict'
import {collect, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

/**
 * Node B's SUBACK, then at once a publish on node A: the message arrives. Each node on its own
 * NATS server of a NATS cluster, so B's announcement takes a route to reach A while the client's
 * publish goes straight to A: without B waiting for A's answer, A would often not know the filter yet.
 */
describe('cluster: a publish right after a SUBACK on another node, across NATS servers', function () {
  this.timeout(120_000)
  const cluster = useCluster(
    [
      {name: 'node-a', servers: (urls) => [urls[0]]},
      {name: 'node-b', servers: (urls) => [urls[1]]},
    ],
    {natsServers: 2, cluster: {ackTimeoutMs: 5000}},
  )
  let a: ClusterNode
  let b: ClusterNode

  before(async () => {
    ;[a, b] = cluster.nodes
    await until(() => a.bus.remote.stats().ready && b.bus.remote.stats().peers === 1 && a.bus.remote.stats().peers === 1, 'the nodes to know each other\u2019s filters')
  })

  it('delivers every message published on node A right after node B\u2019s SUBACK (200 rounds)', async () => {
    const pub = await cluster.client(a.urls.mqtt)
    const sub = await cluster.client(b.urls.mqtt)
    const got = collect(sub)
    const rounds = 200
    for (let i = 0; i < rounds; i++) {
      // A new filter each round: node A has never seen it, so only B's announcement can make A send.
      await sub.subscribeAsync(i % 2 === 0 ? `race/${i}` : `race/${i}/+`, {qos: 0})
      pub.publish(i % 2 === 0 ? `race/${i}` : `race/${i}/x`, String(i))
    }
    pub.publish(`race/${rounds - 2}`, 'end')
    await until(() => got.some((m) => m.payload === 'end'), 'the last message')
    assert.deepEqual(
      got.filter((m) => m.payload !== 'end').map((m) => m.payload),
      Array.from({length: rounds}, (_, i) => String(i)),
    )
  })
})
