import assert from 'node:assert/strict'
import {collect, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

/** Three NATS servers, streams with three replicas: one NATS server killed, the cluster goes on. */
describe('cluster: on a three-server NATS cluster, one NATS server dies', function () {
  this.timeout(90_000)
  const cluster = useCluster(['node-a', {name: 'node-b', servers: (urls) => [...urls].reverse()}], {natsServers: 3, cluster: {replicas: 3, ackTimeoutMs: 5000}})
  let a: ClusterNode
  let b: ClusterNode
  before(() => ([a, b] = cluster.nodes))

  it('keeps routing and storing QoS 1 (PUBACK 0) after a NATS server is killed', async () => {
    const sub = await cluster.client(b.urls.mqtt)
    const got = collect(sub)
    await sub.subscribeAsync('nc/#', {qos: 1})
    const pub = await cluster.client(a.urls.mqtt, {protocolVersion: 5})
    await pub.publishAsync('nc/x', 'before', {qos: 1})
    await until(() => got.length === 1, 'the first message')
    // Kill the NATS server node A is connected to.
    const onA = a.bus.describe().server!
    const victim = cluster.natsServers.find((s) => onA.endsWith(`:${s.port}`))
    assert.ok(victim, `node A is on ${onA}`)
    await victim.stop('SIGKILL')
    await until(() => a.bus.describe().server !== onA || !a.bus.connected, 'node A to notice')
    // The nodes on the killed server move to another one by themselves.
    await until(() => a.bus.connected && b.bus.connected, 'both nodes connected', 20_000)
    let code: number | undefined = -1
    // JetStream may need a moment to elect new stream leaders: retry a refused publish (bounded).
    for (let i = 0; i < 40 && code !== 0; i++) {
      code = await new Promise<number | undefined>((resolve) => pub.publish('nc/x', `after-${i}`, {qos: 1}, (error) => resolve(error ? (error as {code?: number}).code : 0)))
      if (code !== 0) await new Promise((r) => setTimeout(r, 250))
    }
    assert.equal(code, 0, 'a QoS 1 publish is stored again with two of three servers')
    await until(() => got.some((m) => m.payload.startsWith('after-')), 'a message after the kill on node B', 20_000)
  })
})
