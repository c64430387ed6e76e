import assert from 'node:assert/strict'
import type {MqttClient} from 'mqtt'
import {connectMqttJs} from '../helpers/mqttjs.js'
import {skipWithoutNats, startNats} from '../helpers/nats.js'
import type {RunningNats} from '../helpers/nats.js'
import {startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

/** kill -9 of the publisher's node during QoS 1 traffic: every message whose PUBACK the publisher got reaches the subscriber on the other node. */
describe('e2e: serve --cluster, a node killed with SIGKILL during QoS 1 traffic', function () {
  this.timeout(60_000)
  let nats: RunningNats
  let nodeA: ServeProcess
  let nodeB: ServeProcess
  const clients: MqttClient[] = []

  before(async function () {
    skipWithoutNats(this)
    nats = await startNats()
    ;[nodeA, nodeB] = await Promise.all([
      startServe(['--listen', 'mqtt://127.0.0.1:0', '--cluster', nats.url, '--cluster-name', 'node-a']),
      startServe(['--listen', 'ws://127.0.0.1:0/mqtt', '--cluster', nats.url, '--cluster-name', 'node-b']),
    ])
  })

  after(async () => {
    for (const c of clients) c.end(true)
    await Promise.all([nodeA?.stop('SIGKILL'), nodeB?.stop()])
    await nats?.dispose()
  })

  it('loses no acknowledged message', async () => {
    const sub = await connectMqttJs(nodeB.listeners[0].url, {clientId: 'kill-sub'})
    clients.push(sub)
    const received = new Set<string>()
    sub.on('message', (_t, payload) => received.add(payload.toString()))
    await sub.subscribeAsync('k/#', {qos: 1})
    const pub = await connectMqttJs(nodeA.listeners[0].url, {clientId: 'kill-pub'})
    clients.push(pub)
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
