import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import type {IDisconnectPacket} from 'mqtt'
import {persistentSession as persistent} from '../helpers/mqttjs.js'
import {offlineRecord, sessionRecord} from '../helpers/nats.js'
import {killQuietly, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'
import {clusterArgs, useServeCluster} from '../helpers/cluster.js'

const HAS_MOSQUITTO_SUB = spawnSync('mosquitto_sub', ['--help']).error === undefined

async function waitFor(check: () => boolean | Promise<boolean>, what: string, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Two (then three) `mqttws serve --cluster` processes: sessions move with their clients, and outlive a node killed with SIGKILL. */
describe('e2e: serve --cluster, persistent sessions across nodes', function () {
  this.timeout(90_000)
  const listen = ['mqtt://127.0.0.1:0', 'ws://127.0.0.1:0/mqtt']
  const cluster = useServeCluster([clusterArgs('node-a', listen), clusterArgs('node-b', listen)])
  let nodeA: ServeProcess
  let nodeB: ServeProcess
  const children: ChildProcess[] = []
  const connect = cluster.connect

  before(() => ([nodeA, nodeB] = cluster.nodes))

  /** A persistent session subscribed to `filter` on `node`'s first listener, its client gone: once the cluster's record says so. */
  async function leftOffline(node: ServeProcess, clientId: string, filter: string): Promise<void> {
    const first = await connect(node.listeners[0].url, persistent(clientId))
    await first.client.subscribeAsync(filter, {qos: 1})
    await first.client.endAsync()
    assert.ok(await offlineRecord(cluster.nats.url, clientId), `the session of ${clientId} offline`)
  }

  afterEach(() => {
    for (const c of children.splice(0)) killQuietly(c)
  })

  it('MQTT.js: the session and its queue move from node A to node B; a takeover back sends DISCONNECT 0x8E', async () => {
    await leftOffline(nodeA, 'e2e-move', 'es/#')
    const pub = await cluster.client(nodeB.listeners[0].url)
    for (let i = 0; i < 3; i++) await pub.publishAsync('es/x', `q${i}`, {qos: 1})
    const second = await connect(nodeB.listeners[1].url, persistent('e2e-move'))
    assert.equal(second.connack.sessionPresent, true)
    await waitFor(() => second.payloads.length >= 3, 'the queued messages on node B')
    assert.deepEqual(second.payloads, ['q0', 'q1', 'q2'])
    assert.equal((await sessionRecord(cluster.nats.url, 'e2e-move'))?.node, 'node-b')
    // Connected on B, the client connects to A again: B lets go with 0x8E, A has the session.
    const disconnect = new Promise<IDisconnectPacket>((resolve) => second.client.once('disconnect', resolve))
    const third = await connect(nodeA.listeners[1].url, persistent('e2e-move'))
    assert.equal(third.connack.sessionPresent, true)
    assert.equal((await disconnect).reasonCode, 0x8e)
    await pub.publishAsync('es/y', 'after', {qos: 1})
    await waitFor(() => third.payloads.includes('after'), 'a message on node A without subscribing again')
  })

  it('mosquitto_sub -c (MQTT 3.1.1, clean session 0): its queue follows it from node A to node B', async function () {
    if (!HAS_MOSQUITTO_SUB) return this.skip()
    const args = (port: number, extra: string[]): string[] => ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(port), '-c', '-i', 'mq-move', '-q', '1', '-t', 'mq/#', '-v', '-d', ...extra]
    const before = spawn('stdbuf', args(nodeA.listeners[0].port, []), {stdio: ['ignore', 'pipe', 'pipe']})
    children.push(before)
    let out = ''
    before.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    await waitFor(() => out.includes('received SUBACK'), `mosquitto_sub subscribed on node A: ${out}`)
    const gone = new Promise<void>((resolve) => before.once('exit', () => resolve()))
    before.kill('SIGINT')
    await gone
    assert.ok(await offlineRecord(cluster.nats.url, 'mq-move'), 'the session offline on node A')
    const pub = await cluster.client(nodeA.listeners[1].url)
    for (let i = 0; i < 3; i++) await pub.publishAsync('mq/t', `m${i}`, {qos: 1})
    // On node B without subscribing: -C 3 exits after the three queued messages.
    const after = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(nodeB.listeners[0].port), '-c', '-i', 'mq-move', '-q', '1', '-t', 'mq/none', '-v', '-C', '3', '-W', '20'], {stdio: ['ignore', 'pipe', 'pipe']})
    children.push(after)
    let got = ''
    after.stdout!.on('data', (d: Buffer) => (got += d.toString()))
    const code = await new Promise<number | null>((resolve) => after.once('exit', (c) => resolve(c)))
    assert.equal(code, 0, `mosquitto_sub got the queued messages on node B: ${got}`)
    assert.deepEqual(got.trim().split('\n'), ['mq/t m0', 'mq/t m1', 'mq/t m2'])
  })

  it('a node killed with SIGKILL: the offline session it held, with its queued QoS 1 messages, resumes on another node', async () => {
    const nodeK = await startServe(clusterArgs('node-k')(cluster.nats))
    try {
      await leftOffline(nodeK, 'e2e-kill', 'ek/#')
      const pub = await cluster.client(nodeA.listeners[0].url)
      // Acknowledged: stored in the cluster, queued on node K.
      for (let i = 0; i < 5; i++) await pub.publishAsync('ek/x', `k${i}`, {qos: 1})
    } finally {
      await nodeK.stop('SIGKILL')
    }
    const second = await connect(nodeB.listeners[0].url, persistent('e2e-kill'))
    assert.equal(second.connack.sessionPresent, true)
    await waitFor(() => second.payloads.length >= 5, `the queued messages on node B (got ${second.payloads.join(',')})`)
    assert.deepEqual(second.payloads, ['k0', 'k1', 'k2', 'k3', 'k4'])
    // ...and the session goes on there.
    const pub = await cluster.client(nodeA.listeners[0].url)
    await pub.publishAsync('ek/y', 'live', {qos: 1})
    await waitFor(() => second.payloads.includes('live'), 'a live message after the recovery')
  })
})
