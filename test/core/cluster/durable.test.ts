import assert from 'node:assert/strict'
import {collect, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

/** The stored message count of a stream, read over NATS's JetStream API with the node's own client library. */
async function streamMessages(url: string, stream: string): Promise<number> {
  const {connect} = await import('@nats-io/transport-node')
  const {jetstreamManager} = await import('@nats-io/jetstream')
  const nc = await connect({servers: url})
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages
  } finally {
    await nc.close()
  }
}

describe('cluster: QoS 1/2 across nodes on JetStream, and NATS outages', function () {
  this.timeout(60_000)
  const cluster = useCluster(['node-a', 'node-b'])
  const client = cluster.client
  let a: ClusterNode
  let b: ClusterNode
  before(() => ([a, b] = cluster.nodes))

  it('acknowledges a QoS 1/2 publish once JetStream stored it', async () => {
    const before = await streamMessages(cluster.nats.url, 'mqttws_messages')
    const sub = await client(b.urls.mqtt)
    const got = collect(sub)
    // QoS 1 to the subscriber: MQTT.js emits a QoS 2 message only at its PUBREL, so a QoS 1 one
    // right behind it would be seen first although the broker sent them in order.
    await sub.subscribeAsync('d/#', {qos: 1})
    const pub = await client(a.urls.mqtt, {protocolVersion: 5})
    for (let i = 0; i < 20; i++) await pub.publishAsync('d/x', String(i), {qos: i % 2 === 0 ? 1 : 2})
    // Every PUBACK/PUBCOMP came back: the stream has the 20 messages now (a QoS 0 message is not stored).
    pub.publish('d/x', 'qos0', {qos: 0})
    assert.equal((await streamMessages(cluster.nats.url, 'mqttws_messages')) - before, 20)
    await until(() => got.length === 21, '21 messages on node B')
    assert.deepEqual(
      got.map((m) => m.payload),
      [...Array.from({length: 20}, (_, i) => String(i)), 'qos0'],
    )
  })

  it('refuses a QoS 1 publish (0x80) that no stream stored', async () => {
    const {connect} = await import('@nats-io/transport-node')
    const {jetstreamManager} = await import('@nats-io/jetstream')
    const nc = await connect({servers: cluster.nats.url})
    const jsm = await jetstreamManager(nc)
    const config = (await jsm.streams.info('mqttws_messages')).config
    await jsm.streams.delete('mqttws_messages')
    try {
      const pub = await client(a.urls.mqtt, {protocolVersion: 5})
      const sub = await client(b.urls.mqtt)
      await sub.subscribeAsync('nostream/#', {qos: 1})
      // No stream answers (node B's subscription does not): refused when the answer does not come.
      const code = await new Promise<number | undefined>((resolve) => pub.publish('nostream/x', 'x', {qos: 1}, (error) => resolve((error as {code?: number} | undefined)?.code)))
      assert.equal(code, 0x80)
    } finally {
      await jsm.streams.add(config)
      await nc.close()
    }
  })

  it('refuses QoS 1/2 with 0x80 while NATS is down, delivers locally, and recovers when NATS is back', async () => {
    const localSub = await client(a.urls.mqtt)
    const gotLocal = collect(localSub)
    await localSub.subscribeAsync('o/#', {qos: 1})
    const remoteSub = await client(b.urls.mqtt)
    const gotRemote = collect(remoteSub)
    await remoteSub.subscribeAsync('o/#', {qos: 1})
    const pub = await client(a.urls.mqtt, {protocolVersion: 5})
    const v3 = await client(a.urls.ws, {protocolVersion: 4})

    await cluster.nats.stop()
    await until(() => !a.bus.connected, 'node A to see NATS go')
    // MQTT.js reports a PUBACK >= 0x80 as an error carrying the reason code.
    const refused = await new Promise<number | undefined>((resolve) => {
      pub.publish('o/down', 'while down', {qos: 1}, (error) => resolve((error as {code?: number} | undefined)?.code))
    })
    assert.equal(refused, 0x80, 'PUBACK 0x80: not stored in the cluster')
    // MQTT 3.1.1 has no negative PUBACK: the connection is closed instead.
    const closed = new Promise<void>((resolve) => v3.once('close', () => resolve()))
    v3.publish('o/down', 'v3 while down', {qos: 1})
    await closed
    // QoS 0 and local delivery go on.
    pub.publish('o/down', 'qos0 while down', {qos: 0})
    await until(() => gotLocal.length === 3, 'the local subscriber to get all three')

    await cluster.nats.restart()
    await until(() => a.bus.connected && b.bus.connected, 'both nodes back on NATS', 20_000)
    const ok = await pub.publishAsync('o/up', 'back', {qos: 1})
    assert.equal((ok as {reasonCode?: number} | undefined)?.reasonCode ?? 0, 0)
    await until(() => gotRemote.some((m) => m.payload === 'back'), 'node B to get the message after the outage')
    assert.ok(!gotRemote.some((m) => m.payload === 'while down'), 'a refused message was not sent later')
  })
})
