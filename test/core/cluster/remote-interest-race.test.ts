import assert from 'node:assert/strict'
import type {MqttClient} from 'mqtt'
import {connectMqttJs} from '../../helpers/mqttjs.js'
import {skipWithoutNats, startNatsCluster} from '../../helpers/nats.js'
import type {RunningNatsCluster} from '../../helpers/nats.js'
import {collect, startNode, until} from './helpers.js'
import type {ClusterNode} from './helpers.js'

function node(url: string, name: string): Promise<ClusterNode> {
  return startNode(url, name, {}, {ackTimeoutMs: 5000})
}

/**
 * Node B's SUBACK, then at once a publish on node A: the message arrives. Each node on its own
 * NATS server of a NATS cluster, so B's announcement takes a route to reach A while the client's
 * publish goes straight to A: without B waiting for A's answer, A would often not know the filter yet.
 */
describe('cluster: a publish right after a SUBACK on another node, across NATS servers', function () {
  this.timeout(120_000)
  let nats: RunningNatsCluster
  let a: ClusterNode
  let b: ClusterNode
  const clients: MqttClient[] = []

  before(async function () {
    skipWithoutNats(this)
    nats = await startNatsCluster(2)
    a = await node(nats.urls[0], 'node-a')
    b = await node(nats.urls[1], 'node-b')
    await until(() => a.bus.remote.stats().ready && b.bus.remote.stats().peers === 1 && a.bus.remote.stats().peers === 1, 'the nodes to know each other\u2019s filters')
  })

  after(async () => {
    for (const c of clients) c.end(true)
    await Promise.all([a?.close(), b?.close()])
    await nats?.dispose()
  })

  it('delivers every message published on node A right after node B\u2019s SUBACK (200 rounds)', async () => {
    const pub = await connectMqttJs(a.urls.mqtt)
    const sub = await connectMqttJs(b.urls.mqtt)
    clients.push(pub, sub)
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
