import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import mqtt from 'mqtt'
import type {IClientOptions, IConnackPacket, MqttClient} from 'mqtt'
import {Broker} from '../../../src/core/broker/broker.js'
import {createClusterBus} from '../../../src/core/cluster/index.js'
import {resolveClusterConfig} from '../../../src/core/cluster/config.js'
import {resolveConfig} from '../../../src/core/config.js'
import {noopLogger} from '../../../src/core/logger.js'
import {openSqliteStores} from '../../../src/core/store/sqlite.js'
import {testClientOptions} from '../../helpers/mqttjs.js'
import {skipWithoutNats, startNats} from '../../helpers/nats.js'
import type {RunningNats} from '../../helpers/nats.js'
import {startNode, until} from './helpers.js'
import type {ClusterNode} from './helpers.js'

async function connect(url: string, options: IClientOptions, clients: MqttClient[]): Promise<{client: MqttClient; connack: IConnackPacket; got: string[]}> {
  const client = mqtt.connect(url, await testClientOptions(url, options))
  clients.push(client)
  const got: string[] = []
  client.on('message', (_t, payload) => got.push(payload.toString()))
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  return {client, connack, got}
}

/** Whether the sessions bucket has a record of the client id. */
async function hasRecord(url: string, clientId: string): Promise<boolean> {
  const {connect: natsConnect} = await import('@nats-io/transport-node')
  const {Kvm} = await import('@nats-io/kv')
  const nc = await natsConnect({servers: url})
  try {
    const e = await (await new Kvm(nc).open('mqttws_sessions')).get(Buffer.from(clientId).toString('base64url'))
    return e !== null && e.operation === 'PUT'
  } finally {
    await nc.close()
  }
}

const ended = (c: MqttClient): Promise<void> => new Promise((resolve) => c.end(false, {}, () => resolve()))

describe('cluster: sessions of nodes that went away, over time', function () {
  this.timeout(60_000)
  let nats: RunningNats
  let b: ClusterNode
  let dir: string
  const clients: MqttClient[] = []

  before(async function () {
    skipWithoutNats(this)
    nats = await startNats()
    b = await startNode(nats.url, 'node-b')
    dir = mkdtempSync(join(tmpdir(), 'mqttws-cluster-sessions-'))
  })

  afterEach(() => {
    for (const c of clients.splice(0)) c.end(true)
  })

  after(async () => {
    await b?.close()
    await nats?.dispose()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('a node shut down (a rolling restart): its connected clients resume their sessions on another node', async () => {
    const a = await startNode(nats.url, 'node-a')
    let first: Awaited<ReturnType<typeof connect>> | undefined
    try {
      first = await connect(a.urls.mqtt, {clientId: 'rolling', clean: false, protocolVersion: 5, properties: {sessionExpiryInterval: 300}}, clients)
      await first.client.subscribeAsync('rolling/#', {qos: 1})
    } finally {
      await a.close()
    }
    const pub = await connect(b.urls.ws, {}, clients)
    await pub.client.publishAsync('rolling/x', 'while away', {qos: 1})
    const again = await connect(b.urls.mqtt, {clientId: 'rolling', clean: false, protocolVersion: 5, properties: {sessionExpiryInterval: 300}}, clients)
    assert.equal(again.connack.sessionPresent, true)
    await until(() => again.got.includes('while away'), 'the message sent while it was away')
    await pub.client.publishAsync('rolling/y', 'live', {qos: 1})
    await until(() => again.got.includes('live'), 'a live message')
  })

  it('a session that expired after its node went away is not resumed', async () => {
    const a = await startNode(nats.url, 'node-a')
    try {
      const first = await connect(a.urls.mqtt, {clientId: 'short', clean: false, protocolVersion: 5, properties: {sessionExpiryInterval: 1}}, clients)
      await first.client.subscribeAsync('short/#', {qos: 1})
      await ended(first.client)
      await until(() => a.broker.sessionState('short')?.disconnectedAt !== undefined, 'offline on A')
    } finally {
      await a.close()
    }
    await new Promise((r) => setTimeout(r, 1200))
    const again = await connect(b.urls.mqtt, {clientId: 'short', clean: false, protocolVersion: 5, properties: {sessionExpiryInterval: 60}}, clients)
    assert.equal(again.connack.sessionPresent, false)
    assert.equal(b.broker.sessionState('short')?.subscriptions, undefined)
  })

  it('a clean start while the node holding the session is gone ends it: a later resume finds nothing', async () => {
    const a = await startNode(nats.url, 'node-a')
    try {
      const first = await connect(a.urls.mqtt, {clientId: 'cleaned', clean: false, protocolVersion: 5, properties: {sessionExpiryInterval: 300}}, clients)
      await first.client.subscribeAsync('cleaned/#', {qos: 1})
      await ended(first.client)
      await until(() => a.broker.sessionState('cleaned')?.disconnectedAt !== undefined, 'offline on A')
    } finally {
      await a.close()
    }
    const fresh = await connect(b.urls.mqtt, {clientId: 'cleaned', clean: true, protocolVersion: 5}, clients)
    assert.equal(fresh.connack.sessionPresent, false)
    await ended(fresh.client)
    for (let i = 0; i < 400 && (await hasRecord(nats.url, 'cleaned')); i++) await new Promise((r) => setTimeout(r, 25))
    assert.equal(await hasRecord(nats.url, 'cleaned'), false, 'the record of the old session deleted')
    const again = await connect(b.urls.mqtt, {clientId: 'cleaned', clean: false, protocolVersion: 5, properties: {sessionExpiryInterval: 60}}, clients)
    assert.equal(again.connack.sessionPresent, false)
  })

  it('a durable node that restarts drops a session another node took over meanwhile', async () => {
    const durable = async (): Promise<{broker: Broker; url: string}> => {
      const stores = openSqliteStores({dir, synchronous: 'normal'})
      const bus = await createClusterBus(resolveClusterConfig({servers: [nats.url], name: 'durable', heartbeatMs: 200}), noopLogger)
      const broker = new Broker(resolveConfig({listeners: ['mqtt://127.0.0.1:0'], sysInterval: 0, persistence: {dir, synchronous: 'normal'}}), {sessions: stores.sessions, retained: stores.retained, bus, logger: noopLogger})
      const [info] = await broker.listen()
      return {broker, url: info.url}
    }
    let node = await durable()
    try {
      const first = await connect(node.url, {clientId: 'wanderer', clean: false}, clients)
      await first.client.subscribeAsync('wander/#', {qos: 1})
      await ended(first.client)
      await until(() => node.broker.sessionState('wanderer')?.disconnectedAt !== undefined, 'offline on the durable node')
      await node.broker.close()
      // The client moves to B while the durable node is down.
      const moved = await connect(b.urls.mqtt, {clientId: 'wanderer', clean: false}, clients)
      assert.equal(moved.connack.sessionPresent, true)
      node = await durable()
      assert.equal(node.broker.sessionState('wanderer'), undefined, 'the restarted node no longer holds it')
      assert.ok(b.broker.sessionState('wanderer') !== undefined)
      // B still holds it: a message to it arrives once, through B.
      const pub = await connect(node.url, {}, clients)
      await pub.client.publishAsync('wander/x', 'once', {qos: 1})
      await until(() => moved.got.length === 1, 'the message on B')
    } finally {
      await node.broker.close()
    }
  })

  // Last: it stops the NATS server of this block.
  it('NATS unreachable: a persistent client gets a new session at once; its record is written when NATS is back', async () => {
    await nats.stop()
    await until(() => !b.bus.connected, 'node B sees NATS gone')
    const c = await connect(b.urls.mqtt, {clientId: 'outage', clean: false, protocolVersion: 5, properties: {sessionExpiryInterval: 300}}, clients)
    assert.equal(c.connack.sessionPresent, false)
    await c.client.subscribeAsync('out/#', {qos: 1})
    await nats.restart()
    await until(() => b.bus.connected, 'node B back on NATS')
    const {connect: natsConnect} = await import('@nats-io/transport-node')
    const {Kvm} = await import('@nats-io/kv')
    const nc = await natsConnect({servers: nats.url})
    try {
      const kv = await new Kvm(nc).open('mqttws_sessions')
      let rec: {node?: string; subs?: unknown[]} | undefined
      for (let i = 0; i < 200 && rec?.subs?.length !== 1; i++) {
        const e = await kv.get(Buffer.from('outage').toString('base64url'))
        rec = e === null ? undefined : e.json()
        await new Promise((r) => setTimeout(r, 25))
      }
      assert.equal(rec?.node, 'node-b')
      assert.equal(rec?.subs?.length, 1)
    } finally {
      await nc.close()
    }
  })
})
