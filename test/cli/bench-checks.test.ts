/** Issue 18 item 9: bench checks --assert before the run, says what it measures, and compares only several transports. */
import assert from 'node:assert/strict'
import {parseAssertion} from '../../src/core/bench/assert.js'
import {resolvePlan} from '../../src/core/bench/plan.js'
import type {TransportResult} from '../../src/core/bench/result.js'
import {benchHeadline, checkAssertionNames} from '../../src/cli/bench-checks.js'
import {renderBenchResult} from '../../src/cli/render.js'
import {ConfigError} from '../../src/core/errors.js'

function transport(name: TransportResult['transport'], recv: number): TransportResult {
  return {
    transport: name,
    url: 'mqtt://x',
    sent: 10,
    received: 10,
    lost: 0,
    duplicates: 0,
    pub_errors: 0,
    elapsed_s: 1,
    msgs_per_s: recv,
    recv_per_s: recv,
    latency: {count: 10, p50_ms: 1, p90_ms: 1, p99_ms: 1, p999_ms: 1, max_ms: 1, mean_ms: 1},
    overhead: {mqtt_bytes: 20, pub_wire_bytes: 20, sub_wire_bytes: 20, pub_min_bytes: 20, sub_min_bytes: 20, note: ''},
    series: [],
  }
}

describe('bench: --assert checked before the run', () => {
  const plan = {scenario: 'fan-in' as const, transports: ['tcp' as const, 'ws' as const]}

  it('accepts the figures of the run, bare and per transport', () => {
    checkAssertionNames([parseAssertion('ws.recv_per_s >= 0.5 * tcp.recv_per_s'), parseAssertion('lost == 0 && p99_ms < 50')], plan)
  })

  it('a typo: a usage error with the figure meant', () => {
    assert.throws(
      () => checkAssertionNames([parseAssertion('ws.recv_pers >= 1')], plan),
      (e: unknown) => e instanceof ConfigError && /"ws\.recv_pers": unknown figure: did you mean ws\.recv_per_s\?/.test(e.message),
    )
  })

  it('a transport the run does not measure, and conn-only figures outside conn', () => {
    assert.throws(() => checkAssertionNames([parseAssertion('wss.lost == 0')], plan), /this run measures tcp, ws, not wss/)
    assert.throws(() => checkAssertionNames([parseAssertion('connects_per_s > 10')], plan), /unknown figure/)
    checkAssertionNames([parseAssertion('connects_per_s > 10')], {scenario: 'conn', transports: ['tcp']})
  })
})

describe('bench: the headline and the table', () => {
  it('says scenario, clients, QoS, payload, duration, MQTT version, transports and target', () => {
    const plan = resolvePlan({scenario: 'fan-in', transports: ['tcp', 'ws'], publishers: 4, qos: 1, payloadSize: 64, durationMs: 3000})
    assert.equal(benchHeadline(plan, 'mqtt://127.0.0.1:1883'), 'bench fan-in: 4 publishers → 1 subscriber, QoS 1, 64-byte payload, 3 s per transport, MQTT 3.1.1, over tcp, ws; target: mqtt://127.0.0.1:1883')
    const conn = resolvePlan({scenario: 'conn', transports: ['wss'], connections: 50, protocolVersion: 5})
    assert.equal(benchHeadline(conn, 'embedded'), 'bench conn: 50 connections, MQTT 5, over wss; target: embedded')
  })

  it('"vs first" only with several transports', () => {
    const one = renderBenchResult({scenario: 'fan-in', results: [transport('tcp', 100)]} as never)
    assert.doesNotMatch(one, /vs first/)
    const two = renderBenchResult({scenario: 'fan-in', results: [transport('tcp', 100), transport('ws', 50)]} as never)
    assert.match(two, /vs first/)
    assert.match(two, /0\.50×/)
  })

  it('says a rate with loss is not comparable, and only then', () => {
    const lossy = {...transport('ws', 50), received: 6, lost: 4, expected: 10}
    const text = renderBenchResult({scenario: 'fan-in', results: [transport('tcp', 100), lossy]} as never)
    assert.match(text, /ws: lost 4 of 10: the broker dropped messages; this rate is not comparable/)
    assert.doesNotMatch(text, /tcp: lost/)
    assert.doesNotMatch(renderBenchResult({scenario: 'fan-in', results: [transport('tcp', 100)]} as never), /not comparable/)
  })
})
