import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {MqttClient} from 'mqtt'
import {createClusterBus} from '../../../src/core/cluster/index.js'
import {resolveClusterConfig} from '../../../src/core/cluster/config.js'
import {noopLogger} from '../../../src/core/logger.js'
import {startBroker} from '../../helpers/broker.js'
import {connectMqttJs} from '../../helpers/mqttjs.js'
import {skipWithoutNats, startNats} from '../../helpers/nats.js'
import type {RunningNats} from '../../helpers/nats.js'
import {startServe} from '../../helpers/spawn.js'
import type {ServeProcess} from '../../helpers/spawn.js'
import {until} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

/** Every node of this suite: a heartbeat every 3 s, so a killed node is down only after 9 s. */
const HEARTBEAT_MS = 3000

/**
 * A node that dies (SIGKILL: no goodbye) loses its filters on the other nodes once its heartbeats
 * stop; a node that comes back (a new instance of the same name) replaces its old filters as soon
 * as it is heard, without waiting for the old instance's heartbeats to run out.
 */
describe('cluster: remote interest of a node killed or restarted (serve --cluster processes)', function () {
  this.timeout(120_000)
  let nats: RunningNats
  let dir: string
  let a: ClusterNode
  const procs: ServeProcess[] = []
  const clients: MqttClient[] = []

  const serve = async (name: string): Promise<ServeProcess> => {
    const file = join(dir, `${name}-${procs.length}.yaml`)
    writeFileSync(file, `cluster:\n  servers: [${nats.url}]\n  name: ${name}\n  heartbeatMs: ${HEARTBEAT_MS}\n`)
    const p = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--config', file])
    procs.push(p)
    return p
  }
  const subscribe = async (p: ServeProcess, filter: string): Promise<void> => {
    const c = await connectMqttJs(p.listeners[0].url, {reconnectPeriod: 0})
    c.on('error', () => {})
    clients.push(c)
    await c.subscribeAsync(filter)
  }
  /** The instance of the node named `name` that node A has heard, other than `not`. */
  const instanceOf = (name: string, not?: string): string | undefined => a.bus.nodes.list(Date.now()).find((n) => n.name === name && n.instance !== not && n.state === 'up')?.instance

  before(async function () {
    skipWithoutNats(this)
    nats = await startNats()
    dir = mkdtempSync(join(tmpdir(), 'mqttws-interest-'))
    const bus = await createClusterBus(resolveClusterConfig({servers: [nats.url], name: 'node-a', heartbeatMs: HEARTBEAT_MS}), noopLogger)
    a = {...(await startBroker({}, {bus})), bus}
  })

  after(async () => {
    for (const c of clients) c.end(true)
    await Promise.all(procs.map((p) => p.stop('SIGKILL')))
    await a?.close()
    await nats?.dispose()
    rmSync(dir, {recursive: true, force: true})
  })

  it('drops the filters of a node killed with SIGKILL once its heartbeats stop', async () => {
    const k = await serve('node-k')
    await subscribe(k, 'killed/#')
    assert.ok(a.bus.remote.wants('killed/x'), 'node A has node K\u2019s filter after its SUBACK')
    await k.stop('SIGKILL')
    await until(() => !a.bus.remote.wants('killed/x'), 'node A to drop the filters of the killed node', 30_000)
    await until(() => a.bus.remote.stats().ready, 'node A to know every live node\u2019s filters again')
    const kept = a.bus.stats.keptLocal
    const pub = await connectMqttJs(a.urls.mqtt)
    clients.push(pub)
    await pub.publishAsync('killed/x', 'nobody wants it now')
    await until(() => a.bus.stats.keptLocal === kept + 1, 'node A to keep the message')
  })

  it('replaces the filters of a node restarted under the same name as soon as the new instance is heard', async () => {
    const r1 = await serve('node-r')
    await subscribe(r1, 'before-restart/#')
    assert.ok(a.bus.remote.wants('before-restart/x'))
    const old = instanceOf('node-r')
    assert.ok(old !== undefined)
    await r1.stop('SIGKILL')
    const r2 = await serve('node-r')
    await subscribe(r2, 'after-restart/#')
    // The old instance has missed at most a heartbeat or two here (node A counts it down after three).
    await until(() => instanceOf('node-r', old) !== undefined, 'node A to hear the new instance')
    assert.ok(!a.bus.remote.wants('before-restart/x'), 'the old instance\u2019s filters are gone')
    assert.ok(a.bus.remote.wants('after-restart/x'), 'the new instance\u2019s filters are there')
  })
})
