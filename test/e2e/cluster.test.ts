import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import type {MqttClient} from 'mqtt'
import {connectMqttJs} from '../helpers/mqttjs.js'
import {killQuietly} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'
import {clusterArgs, useServeCluster} from '../helpers/cluster.js'

const HAS_MOSQUITTO_SUB = spawnSync('mosquitto_sub', ['--help']).error === undefined

/** Two `mqttws serve --cluster` processes: MQTT.js over WebSocket on node A, mosquitto_sub over TCP on node B. */
describe('e2e: serve --cluster (two processes, one NATS)', function () {
  this.timeout(60_000)
  let sub: ChildProcess | undefined
  let pub: MqttClient | undefined

  before(function () {
    if (!HAS_MOSQUITTO_SUB) {
      console.log('    (skipped: mosquitto_sub is not installed; apt-get install mosquitto-clients)')
      this.skip()
    }
  })
  // Before the cluster's own after hook: the clients go first.
  after(() => {
    pub?.end(true)
    killQuietly(sub)
  })
  const cluster = useServeCluster([clusterArgs('node-a', ['ws://127.0.0.1:0/mqtt']), clusterArgs('node-b')])
  let nodeA: ServeProcess
  let nodeB: ServeProcess
  before(() => ([nodeA, nodeB] = cluster.nodes))

  it('announces the node on start', () => {
    const line = nodeA.stdoutLines.map((l) => JSON.parse(l) as {event: string; node?: string; servers?: string[]}).find((e) => e.event === 'cluster')
    assert.equal(line?.node, 'node-a')
    assert.deepEqual(line?.servers, [cluster.nats.url])
  })

  it('routes QoS 0 and QoS 1 from MQTT.js over WS on node A to mosquitto_sub over TCP on node B, in order', async () => {
    const portB = nodeB.listeners[0].port
    const topics = Array.from({length: 20}, (_, i) => `e2e/${i % 2 === 0 ? 'with space' : 'dot.ted'}/${i}`)
    sub = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(portB), '-t', 'e2e/#', '-q', '1', '-v', '-d', '-C', String(topics.length), '-W', '30'], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    sub.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((resolve) => sub!.on('exit', (code) => resolve(code)))
    // -d prints the SUBACK: node B acknowledged the subscription once NATS had it.
    for (let i = 0; i < 500 && !out.includes('received SUBACK'); i++) await new Promise((r) => setTimeout(r, 20))
    assert.ok(out.includes('received SUBACK'), `mosquitto_sub subscribed: ${out}`)
    pub = await connectMqttJs(nodeA.listeners[0].url)
    for (let i = 0; i < topics.length; i++) pub.publish(topics[i], `m${i}`, {qos: i % 2 === 0 ? 0 : 1})
    assert.equal(await exited, 0, `mosquitto_sub got ${topics.length} messages: ${out}`)
    const lines = out.split('\n').filter((l) => l.startsWith('e2e/'))
    assert.deepEqual(
      lines,
      topics.map((t, i) => `${t} m${i}`),
    )
  })

  it('reconnects to NATS by itself after an outage, logs it, and routes again', async () => {
    const portB = nodeB.listeners[0].port
    await cluster.nats.stop()
    for (let i = 0; i < 500 && !(nodeA.stderr().includes('NATS connection lost') && nodeB.stderr().includes('NATS connection lost')); i++) await new Promise((r) => setTimeout(r, 20))
    assert.match(nodeA.stderr(), /cluster: NATS connection lost, reconnecting/)
    await cluster.nats.restart()
    for (let i = 0; i < 1000 && !(nodeA.stderr().includes('NATS connection back') && nodeB.stderr().includes('NATS connection back')); i++) await new Promise((r) => setTimeout(r, 20))
    assert.match(nodeA.stderr(), /cluster: NATS connection back/)
    assert.match(nodeB.stderr(), /cluster: NATS connection back/)
    const after = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(portB), '-t', 'again/#', '-q', '1', '-v', '-d', '-C', '1', '-W', '30'], {stdio: ['ignore', 'pipe', 'pipe']})
    sub = after
    let out = ''
    after.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((resolve) => after.on('exit', (code) => resolve(code)))
    for (let i = 0; i < 500 && !out.includes('received SUBACK'); i++) await new Promise((r) => setTimeout(r, 20))
    pub ??= await connectMqttJs(nodeA.listeners[0].url)
    if (!pub.connected) pub = await connectMqttJs(nodeA.listeners[0].url)
    await pub.publishAsync('again/x', 'after the outage', {qos: 1})
    assert.equal(await exited, 0, out)
    assert.match(out, /again\/x after the outage/)
  })
})
