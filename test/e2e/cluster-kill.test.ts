import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {bucketKeys} from '../helpers/nats.js'
import type {RunningNats} from '../helpers/nats.js'
import {clusterArgs, useServeCluster} from '../helpers/cluster.js'
import type {ServeProcess} from '../helpers/spawn.js'

/** kill -9 of the publisher's node during QoS 1 traffic: every message whose PUBACK the publisher got reaches the subscriber on the other node. */
describe('e2e: serve --cluster, a node killed with SIGKILL during QoS 1 traffic', function () {
  this.timeout(60_000)
  const cluster = useServeCluster([clusterArgs('node-a'), clusterArgs('node-b', ['ws://127.0.0.1:0/mqtt'])])
  let nodeA: ServeProcess
  let nodeB: ServeProcess
  before(() => ([nodeA, nodeB] = cluster.nodes))

  it('loses no acknowledged message', async () => {
    const sub = await cluster.client(nodeB.listeners[0].url, {clientId: 'kill-sub'})
    const received = new Set<string>()
    sub.on('message', (_t, payload) => received.add(payload.toString()))
    await sub.subscribeAsync('k/#', {qos: 1})
    const pub = await cluster.client(nodeA.listeners[0].url, {clientId: 'kill-pub'})
    pub.on('error', () => {})
    const acked: string[] = []
    let sent = 0
    // Keep 20 in flight; kill node A once 300 were acknowledged.
    await new Promise<void>((resolve) => {
      const send = (): void => {
        if (nodeA.child.exitCode !== null || nodeA.child.signalCode !== null) return
        const payload = `m${sent++}`
        pub.publish('k/x', payload, {qos: 1}, (error) => {
          if (error === undefined || error === null) acked.push(payload)
          if (acked.length === 300) {
            nodeA.child.kill('SIGKILL')
            resolve()
          } else send()
        })
      }
      for (let i = 0; i < 20; i++) send()
    })
    await new Promise<void>((resolve) => (nodeA.child.exitCode !== null || nodeA.child.signalCode !== null ? resolve() : nodeA.child.once('exit', () => resolve())))
    // Every acknowledged message arrives on node B (bounded wait).
    for (let i = 0; i < 500 && acked.some((p) => !received.has(p)); i++) await new Promise((r) => setTimeout(r, 20))
    const missing = acked.filter((p) => !received.has(p))
    assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged messages never reached node B`)
    assert.ok(acked.length >= 300)
  })
})

/** `serve` arguments of a node with a config file (heartbeats every 200 ms) in the fixture's folder. */
const withConfig =
  (name: string) =>
  (nats: RunningNats, dir: string): string[] => {
    const file = join(dir, `${name}.yaml`)
    writeFileSync(file, `cluster:\n  servers: [${nats.url}]\n  name: ${name}\n  heartbeatMs: 200\n`)
    return ['--listen', 'mqtt://127.0.0.1:0', '--config', file]
  }

/** The Will of a client of a node killed with SIGKILL is published by a surviving node. */
describe('e2e: serve --cluster, the Wills of a dead node', function () {
  this.timeout(60_000)
  const cluster = useServeCluster([withConfig('node-a'), withConfig('node-b')])
  let nodeA: ServeProcess
  let nodeB: ServeProcess
  before(() => ([nodeA, nodeB] = cluster.nodes))

  it('publishes on a surviving node the Wills of the clients of a node killed with SIGKILL, and not those of clients that left cleanly', async () => {
    const watcher = await cluster.client(nodeB.listeners[0].url)
    const got: string[] = []
    watcher.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`))
    await watcher.subscribeAsync('wills/#', {qos: 1})
    const doomed = await cluster.client(nodeA.listeners[0].url, {clientId: 'doomed', will: {topic: 'wills/doomed', payload: Buffer.from('gone'), qos: 1, retain: false}})
    const polite = await cluster.client(nodeA.listeners[0].url, {clientId: 'polite', will: {topic: 'wills/polite', payload: Buffer.from('never'), qos: 1, retain: false}})
    doomed.on('error', () => {})
    await polite.endAsync()
    // Node A deleted the polite client's Will from the bucket (asynchronously) before it dies.
    for (let i = 0; i < 500 && (await bucketKeys(cluster.nats.url, 'mqttws_wills')) !== 1; i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(await bucketKeys(cluster.nats.url, 'mqttws_wills'), 1)
    nodeA.child.kill('SIGKILL')
    for (let i = 0; i < 500 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
    // A little longer: a second copy (or the polite client's Will) would come now.
    for (let i = 0; i < 25; i++) await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(got, ['wills/doomed=gone'])
    assert.match(nodeB.stderr(), /published the Will of a client of a node that is gone/)
  })
})
