import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import mqtt from 'mqtt'
import {connectMqttJs, testClientOptions} from '../../helpers/mqttjs.js'
import {skipWithoutNats, startNats} from '../../helpers/nats.js'
import type {RunningNats} from '../../helpers/nats.js'
import {collect, startDurableNode, startNode, until} from '../../helpers/cluster.js'

/** A node with --data-dir: the subscriptions of sessions restored at start are subscribed on NATS too. */
describe('cluster: a durable node restarts with its sessions', function () {
  this.timeout(60_000)
  let nats: RunningNats
  let dir: string

  before(async function () {
    skipWithoutNats(this)
    nats = await startNats()
    dir = mkdtempSync(join(tmpdir(), 'mqttws-cluster-restore-'))
  })

  after(async () => {
    await nats?.dispose()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  const durableNode = (): ReturnType<typeof startDurableNode> => startDurableNode(nats.url, dir)

  it('queues for an offline persistent session, after a restart, what another node publishes', async () => {
    const other = await startNode(nats.url, 'other')
    let node = await durableNode()
    try {
      const sub = await connectMqttJs(node.url, {clientId: 'keeper', clean: false})
      await sub.subscribeAsync(['keep/#', '$share/g/shared/#'], {qos: 1})
      await sub.endAsync()
      await node.broker.close()
      node = await durableNode()
      const pub = await connectMqttJs(other.urls.mqtt)
      await pub.publishAsync('keep/a', 'one', {qos: 1})
      await pub.publishAsync('shared/b', 'two', {qos: 1})
      await until(() => (node.broker.sessionState('keeper')?.queue?.length ?? 0) === 2, 'two messages queued for the offline session')
      pub.end(true)
      // Listening before CONNACK: the queued messages follow it at once.
      const back = mqtt.connect(node.url, await testClientOptions(node.url, {clientId: 'keeper', clean: false}))
      const got = collect(back)
      await until(() => got.length === 2, 'the queued messages')
      assert.deepEqual(got.map((m) => m.payload).sort(), ['one', 'two'])
      back.end(true)
    } finally {
      await node.broker.close()
      await other.close()
    }
  })
})
