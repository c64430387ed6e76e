/** `bench -L … -L … -L …` over three `serve --cluster` nodes: one transport, the clients spread over the nodes, messages crossing them. */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {skipWithoutNats, startNats} from '../helpers/nats.js'
import type {RunningNats} from '../helpers/nats.js'
import {runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

interface ClusterApi {
  node: string
  stats: {published: number; received: number; keptLocal: number}
  interest: {ready: boolean; peers: number}
}

describe('e2e: bench over a three-node cluster (bench -L URL -L URL -L URL)', function () {
  this.timeout(120_000)
  let nats: RunningNats
  let dir: string
  const nodes: ServeProcess[] = []
  const admins: Array<{url: string; token: string}> = []

  const cluster = async (i: number): Promise<ClusterApi> => {
    const res = await fetch(`${admins[i].url}/api/v1/cluster`, {headers: {authorization: `Bearer ${admins[i].token}`}})
    assert.equal(res.status, 200)
    return (await res.json()) as ClusterApi
  }

  before(async function () {
    skipWithoutNats(this)
    nats = await startNats()
    dir = mkdtempSync(join(tmpdir(), 'mqttws-cluster-bench-'))
    for (const name of ['node-a', 'node-b', 'node-c']) {
      const env = {MQTTWS_ADMIN_TOKEN_FILE: join(dir, `${name}.token`), MQTTWS_ADMIN_TOKEN: ''}
      const node = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--admin', 'http://127.0.0.1:0', '--cluster', nats.url, '--cluster-name', name], {env})
      nodes.push(node)
      const line = node.stdoutLines.map((l) => JSON.parse(l) as {event?: string; url: string; token: string}).find((e) => e.event === 'admin')
      assert.ok(line, `no admin line in ${node.stdoutLines.join('\n')}`)
      admins.push({url: line.url, token: line.token})
    }
    // Each node knows the others' filters once it has heard from them (two heartbeats, 4 s); until then it sends everything.
    for (let i = 0; ; i++) {
      const states = await Promise.all([0, 1, 2].map(cluster))
      if (states.every((s) => s.interest.ready && s.interest.peers === 2)) break
      if (i === 300) throw new Error(`the nodes did not learn each other's filters: ${JSON.stringify(states.map((s) => s.interest))}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  })

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await nats?.dispose()
    if (dir !== undefined) rmSync(dir, {recursive: true, force: true})
  })

  it('fan-in: the publishers spread over the three nodes reach the subscriber on node B; node C, without subscribers, receives nothing', async () => {
    const before = await Promise.all([0, 1, 2].map(cluster))
    const urls = nodes.map((n) => n.listeners[0].url)
    const r = await runBin(['bench', 'fan-in', ...urls.flatMap((u) => ['-L', u]), '-P', '6', '-n', '300', '--json'], {timeoutMs: 90_000})
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as {results: Array<{transport: string; url: string; urls: string[]; sent: number; received: number; lost: number; duplicates: number}>}
    assert.equal(doc.results.length, 1, 'three URLs of one transport are one transport')
    const [res] = doc.results
    assert.equal(res.transport, 'tcp')
    assert.deepEqual(res.urls, urls)
    assert.equal(res.url, urls[0])
    assert.equal(res.sent, 6 * 300)
    assert.equal(res.received, 6 * 300)
    assert.equal(res.lost, 0)
    assert.equal(res.duplicates, 0)
    const after = await Promise.all([0, 1, 2].map(cluster))
    const delta = (i: number, k: 'published' | 'received' | 'keptLocal'): number => after[i].stats[k] - before[i].stats[k]
    // The subscriber is client 1: node B. Publishers 0 and 3 are on node A, 1 and 4 on B, 2 and 5 on C.
    assert.equal(delta(0, 'published'), 600, 'node A sent its two publishers\u2019 messages to NATS')
    assert.equal(delta(2, 'published'), 600, 'node C sent its two publishers\u2019 messages to NATS')
    assert.equal(delta(1, 'received'), 1200, 'node B received the messages of nodes A and C')
    assert.equal(delta(1, 'published'), 0, 'node B\u2019s own publishers\u2019 messages stayed on node B (no other node wanted them)')
    assert.equal(delta(1, 'keptLocal'), 600)
    assert.equal(delta(0, 'received'), 0, 'node A, without subscribers, received none of it')
    assert.equal(delta(2, 'received'), 0, 'node C, without subscribers, received none of it')
  })
})
