import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {persistentSession} from '../../helpers/mqttjs.js'
import {sessionRecord} from '../../helpers/nats.js'
import {startDurableNode, startNode, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

describe('cluster: sessions of nodes that went away, over time', function () {
  this.timeout(60_000)
  const cluster = useCluster(['node-b'])
  let b: ClusterNode
  let dir: string
  const connect = cluster.connect

  before(() => {
    ;[b] = cluster.nodes
    dir = mkdtempSync(join(tmpdir(), 'mqttws-cluster-sessions-'))
  })

  after(() => {
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('a node shut down (a rolling restart): its connected clients resume their sessions on another node', async () => {
    const a = await startNode(cluster.nats.url, 'node-a')
    let first: Awaited<ReturnType<typeof connect>> | undefined
    try {
      first = await connect(a.urls.mqtt, persistentSession('rolling'))
      await first.client.subscribeAsync('rolling/#', {qos: 1})
    } finally {
      await a.close()
    }
    const pub = await connect(b.urls.ws, {})
    await pub.client.publishAsync('rolling/x', 'while away', {qos: 1})
    const again = await connect(b.urls.mqtt, persistentSession('rolling'))
    assert.equal(again.connack.sessionPresent, true)
    await until(() => again.payloads.includes('while away'), 'the message sent while it was away')
    await pub.client.publishAsync('rolling/y', 'live', {qos: 1})
    await until(() => again.payloads.includes('live'), 'a live message')
  })

  it('a session that expired after its node went away is not resumed', async () => {
    const a = await startNode(cluster.nats.url, 'node-a')
    try {
      const first = await connect(a.urls.mqtt, persistentSession('short', 1))
      await first.client.subscribeAsync('short/#', {qos: 1})
      await first.client.endAsync()
      await until(() => a.broker.sessionState('short')?.disconnectedAt !== undefined, 'offline on A')
    } finally {
      await a.close()
    }
    await new Promise((r) => setTimeout(r, 1200))
    const again = await connect(b.urls.mqtt, persistentSession('short', 60))
    assert.equal(again.connack.sessionPresent, false)
    assert.equal(b.broker.sessionState('short')?.subscriptions, undefined)
  })

  it('a clean start while the node holding the session is gone ends it: a later resume finds nothing', async () => {
    const a = await startNode(cluster.nats.url, 'node-a')
    try {
      const first = await connect(a.urls.mqtt, persistentSession('cleaned'))
      await first.client.subscribeAsync('cleaned/#', {qos: 1})
      await first.client.endAsync()
      await until(() => a.broker.sessionState('cleaned')?.disconnectedAt !== undefined, 'offline on A')
    } finally {
      await a.close()
    }
    const fresh = await connect(b.urls.mqtt, {clientId: 'cleaned', clean: true, protocolVersion: 5})
    assert.equal(fresh.connack.sessionPresent, false)
    await fresh.client.endAsync()
    for (let i = 0; i < 400 && (await sessionRecord(cluster.nats.url, 'cleaned')) !== undefined; i++) await new Promise((r) => setTimeout(r, 25))
    assert.equal(await sessionRecord(cluster.nats.url, 'cleaned'), undefined, 'the record of the old session deleted')
    const again = await connect(b.urls.mqtt, persistentSession('cleaned', 60))
    assert.equal(again.connack.sessionPresent, false)
  })

  it('a durable node that restarts drops a session another node took over meanwhile', async () => {
    const durable = (): ReturnType<typeof startDurableNode> => startDurableNode(cluster.nats.url, dir)
    let node = await durable()
    try {
      const first = await connect(node.url, {clientId: 'wanderer', clean: false})
      await first.client.subscribeAsync('wander/#', {qos: 1})
      await first.client.endAsync()
      await until(() => node.broker.sessionState('wanderer')?.disconnectedAt !== undefined, 'offline on the durable node')
      await node.broker.close()
      // The client moves to B while the durable node is down.
      const moved = await connect(b.urls.mqtt, {clientId: 'wanderer', clean: false})
      assert.equal(moved.connack.sessionPresent, true)
      node = await durable()
      assert.equal(node.broker.sessionState('wanderer'), undefined, 'the restarted node no longer holds it')
      assert.ok(b.broker.sessionState('wanderer') !== undefined)
      // B still holds it: a message to it arrives once, through B.
      const pub = await connect(node.url, {})
      await pub.client.publishAsync('wander/x', 'once', {qos: 1})
      await until(() => moved.payloads.length === 1, 'the message on B')
    } finally {
      await node.broker.close()
    }
  })

  // Last: it stops the NATS server of this block.
  it('NATS unreachable: a persistent client gets a new session at once; its record is written when NATS is back', async () => {
    const nats = cluster.nats
    await nats.stop()
    await until(() => !b.bus.connected, 'node B sees NATS gone')
    const c = await connect(b.urls.mqtt, persistentSession('outage'))
    assert.equal(c.connack.sessionPresent, false)
    await c.client.subscribeAsync('out/#', {qos: 1})
    await nats.restart()
    await until(() => b.bus.connected, 'node B back on NATS')
    let rec: Awaited<ReturnType<typeof sessionRecord>>
    for (let i = 0; i < 200 && rec?.subs?.length !== 1; i++) {
      rec = await sessionRecord(nats.url, 'outage')
      await new Promise((r) => setTimeout(r, 25))
    }
    assert.equal(rec?.node, 'node-b')
    assert.equal(rec?.subs?.length, 1)
  })
})
