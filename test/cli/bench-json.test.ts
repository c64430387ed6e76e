/** Issue 18 item 9: bench --json names fields in camelCase (version 2), and --baseline reads versions 1 and 2. */
import assert from 'node:assert/strict'
import {BENCH_JSON_VERSION, benchJson, fromBenchJson} from '../../src/core/bench/json.js'
import {assertionScope} from '../../src/core/bench/result.js'
import type {BenchResult} from '../../src/core/bench/result.js'
import {ConfigError} from '../../src/core/errors.js'

const result: BenchResult = {
  tool: 'mqttws bench',
  version: 1,
  scenario: 'conn',
  started: '2026-12-07T00:00:00.000Z',
  environment: {node: 'v20', platform: 'linux', arch: 'x64', cpus: 2, cpu: 'x'},
  settings: {payloadSize: 16, protocolVersion: 4},
  results: [
    {
      transport: 'tcp',
      url: 'mqtt://127.0.0.1:1',
      sent: 10,
      received: 9,
      lost: 1,
      duplicates: 0,
      pub_errors: 0,
      elapsed_s: 1,
      msgs_per_s: 10,
      recv_per_s: 9,
      latency: {count: 9, p50_ms: 1, p90_ms: 2, p99_ms: 3, p999_ms: 4, max_ms: 5, mean_ms: 1.5},
      overhead: {mqtt_bytes: 20, pub_wire_bytes: 20, sub_wire_bytes: 20, pub_min_bytes: 20, sub_min_bytes: 20, note: 'n'},
      connects: 9,
      connect_failures: {ECONNREFUSED: 1, 'handshake-timeout': 0},
      connects_per_s: 90,
      series: [{t: 1, dt: 1, sent: 10, received: 9}],
    },
  ],
}

describe('bench --json: one key convention (docs/json.md)', () => {
  it('version 2: figures in camelCase; settings as they were; failure reasons (values) untouched', () => {
    const doc = benchJson(result) as {version: number; settings: unknown; results: Array<Record<string, unknown> & {latency: Record<string, number>; overhead: Record<string, unknown>}>}
    assert.equal(doc.version, BENCH_JSON_VERSION)
    assert.equal(BENCH_JSON_VERSION, 2)
    assert.deepEqual(doc.settings, {payloadSize: 16, protocolVersion: 4})
    const t = doc.results[0]
    assert.equal(t.recvPerS, 9)
    assert.equal(t.pubErrors, 0)
    assert.equal(t.connectsPerS, 90)
    assert.equal(t.latency.p99Ms, 3)
    assert.equal(t.latency.p999Ms, 4)
    assert.equal(t.overhead.pubWireBytes, 20)
    assert.deepEqual(t.connectFailures, {ECONNREFUSED: 1, 'handshake-timeout': 0})
    assert.ok(!JSON.stringify(doc.results).match(/"[a-z0-9]+_[a-z0-9_]+":/), 'no snake_case field left in results')
  })

  it('--baseline reads version 2 back into the same figures, and version 1 as it is; refuses others', () => {
    assert.deepEqual(fromBenchJson(JSON.parse(JSON.stringify(benchJson(result))), 'b.json'), result)
    assert.deepEqual(fromBenchJson(JSON.parse(JSON.stringify(result)), 'a.json'), result)
    assert.throws(() => fromBenchJson({...result, version: 3}, 'c.json'), (e: unknown) => e instanceof ConfigError && /version 3: this mqttws reads versions 1 and 2/.test(e.message))
    assert.throws(() => fromBenchJson({tool: 'x'}, 'd.json'), /not a result of mqttws bench --json/)
  })

  it('--assert takes a figure by either name', () => {
    const scope = assertionScope(result)
    assert.equal(scope.recv_per_s, 9)
    assert.equal(scope.recvPerS, 9)
    assert.equal(scope['tcp.p99Ms'], 3)
  })
})
