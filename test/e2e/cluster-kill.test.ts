import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
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

/** How many Wills the cluster's wills bucket holds (read with the NATS client library). */
async function willKeys(url: string): Promise<number> {
  const {connect} = await import('@nats-io/transport-node')
  const {Kvm} = await import('@nats-io/kv')
  const nc = await connect({servers: url})
  try {
    const kv = await new Kvm(nc).open('mqttws_wills')
    let n = 0
    for await (const _ of await kv.keys()) n++
    return n
  } finally {
    await nc.close()
  }
}

/** The Will of a client of a node killed with SIGKILL is published by a surviving node. */
describe('e2e: serve --cluster, the Wills of a dead node', function () {
  this.timeout(60_000)
  let nats: RunningNats
  let dir: string
  let nodeA: ServeProcess
  let nodeB: ServeProcess
  const clients: MqttClient[] = []

  before(async function () {
    skipWithoutNats(this)
    nats = await startNats()
    dir = mkdtempSync(join(tmpdir(), 'mqttws-cluster-'))
    const conf = (name: string): string => {
      const file = join(dir, `${name}.yaml`)
      writeFileSync(file, `cluster:\n  servers: [${nats.url}]\n  name: ${name}\n  heartbeatMs: 200\n`)
      return file
    }
    ;[nodeA, nodeB] = await Promise.all([startServe(['--listen', 'mqtt://127.0.0.1:0', '--config', conf('node-a')]), startServe(['--listen', 'mqtt://127.0.0.1:0', '--config', conf('node-b')])])
  })

  after(async () => {
    for (const c of clients) c.end(true)
    await Promise.all([nodeA?.stop('SIGKILL'), nodeB?.stop()])
    await nats?.dispose()
    rmSync(dir, {recursive: true, force: true})
  })

  it('publishes on a surviving node the Wills of the clients of a node killed with SIGKILL, and not those of clients that left cleanly', async () => {
    const watcher = await connectMqttJs(nodeB.listeners[0].url)
    clients.push(watcher)
    const got: string[] = []
    watcher.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`))
    await watcher.subscribeAsync('wills/#', {qos: 1})
    const doomed = await connectMqttJs(nodeA.listeners[0].url, {clientId: 'doomed', will: {topic: 'wills/doomed', payload: Buffer.from('gone'), qos: 1, retain: false}})
    const polite = await connectMqttJs(nodeA.listeners[0].url, {clientId: 'polite', will: {topic: 'wills/polite', payload: Buffer.from('never'), qos: 1, retain: false}})
    clients.push(doomed)
    doomed.on('error', () => {})
    await polite.endAsync()
    // Node A deleted the polite client's Will from the bucket (asynchronously) before it dies.
    for (let i = 0; i < 500 && (await willKeys(nats.url)) !== 1; i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(await willKeys(nats.url), 1)
    nodeA.child.kill('SIGKILL')
    for (let i = 0; i < 500 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
    // A little longer: a second copy (or the polite client's Will) would come now.
    for (let i = 0; i < 25; i++) await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(got, ['wills/doomed=gone'])
    assert.match(nodeB.stderr(), /published the Will of a client of a node that is gone/)
  })
})
