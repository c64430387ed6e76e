import assert from 'node:assert/strict'
import {collect, until, useCluster} from '../../helpers/cluster.js'
import type {ClusterNode} from '../../helpers/cluster.js'

describe('cluster: shared subscriptions across nodes', function () {
  this.timeout(60_000)
  const cluster = useCluster(['node-a', 'node-b', 'node-c'])
  const client = cluster.client
  let a: ClusterNode
  let b: ClusterNode
  let c: ClusterNode
  before(() => ([a, b, c] = cluster.nodes))

  it('gives each message to exactly one member of each group cluster-wide (1,000 QoS 1 messages)', async () => {
    // Group "work": two members on A (the publisher's node), one on B, one on C. Group "audit": one on B, one on C.
    const work = [await client(a.urls.mqtt, {protocolVersion: 5}), await client(a.urls.ws, {protocolVersion: 5}), await client(b.urls.mqtt, {protocolVersion: 5}), await client(c.urls.ws)]
    const audit = [await client(b.urls.ws, {protocolVersion: 5}), await client(c.urls.mqtt, {protocolVersion: 5})]
    const plain = await client(c.urls.mqtt)
    const gotWork = work.map(collect)
    const gotAudit = audit.map(collect)
    const gotPlain = collect(plain)
    for (const w of work) await w.subscribeAsync('$share/work/jobs/#', {qos: 1})
    for (const w of audit) await w.subscribeAsync('$share/audit/jobs/+', {qos: 1})
    await plain.subscribeAsync('jobs/#', {qos: 1})
    const pub = await client(a.urls.mqtt, {protocolVersion: 5})
    const N = 1000
    for (let i = 0; i < N; i++) pub.publish(`jobs/${i % 10}`, String(i), {qos: 1})
    const total = (lists: Array<Array<{payload: string}>>): number => lists.reduce((n, l) => n + l.length, 0)
    await until(() => total(gotWork) >= N && total(gotAudit) >= N && gotPlain.length >= N, `${N} messages in each group and on the plain subscriber`, 30_000)
    // A little longer: a duplicate would arrive now.
    pub.publish('jobs/end', 'end', {qos: 1})
    await until(() => gotPlain.length === N + 1, 'the last message')
    for (const [name, lists] of [
      ['work', gotWork],
      ['audit', gotAudit],
    ] as const) {
      const payloads = lists.flatMap((l) => l.map((m) => m.payload)).filter((p) => p !== 'end')
      assert.equal(payloads.length, N, `group ${name}: ${payloads.length} deliveries of ${N} messages`)
      assert.equal(new Set(payloads).size, N, `group ${name}: none lost, none duplicated`)
      const counts = lists.map((l) => l.length)
      assert.ok(
        counts.every((n) => n > 0),
        `group ${name}: every member got some (${counts.join(', ')})`,
      )
    }
    // The work members on node A are not favoured by being on the publisher's node: NATS picks the node.
    const onA = gotWork[0].length + gotWork[1].length
    assert.ok(onA < N, `members on node A got ${onA} of ${N}`)
  })

  it('a node leaves the queue group when its last member unsubscribes', async () => {
    const onA = await client(a.urls.mqtt)
    const onB = await client(b.urls.mqtt)
    const gotA = collect(onA)
    const gotB = collect(onB)
    await onA.subscribeAsync('$share/g2/q/x', {qos: 0})
    await onB.subscribeAsync('$share/g2/q/x', {qos: 0})
    await onB.unsubscribeAsync('$share/g2/q/x')
    const pub = await client(c.urls.mqtt)
    for (let i = 0; i < 100; i++) pub.publish('q/x', String(i))
    await until(() => gotA.length === 100, 'every message on the member left')
    assert.equal(gotB.length, 0)
  })
})
