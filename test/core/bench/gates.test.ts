/** The pure parts of bench: plan validation, assertions, baselines, stamps, wire minimums. */
import assert from 'node:assert/strict'
import {parseAssertion} from '../../../src/core/bench/assert.js'
import {compareWithBaseline, parseRegression} from '../../../src/core/bench/baseline.js'
import {evaluateGates} from '../../../src/core/bench/gate.js'
import {minimumWireBytes, wsHeaderBytes} from '../../../src/core/bench/overhead.js'
import {resolvePlan, topicFor} from '../../../src/core/bench/plan.js'
import type {BenchResult, TransportResult} from '../../../src/core/bench/result.js'
import {assertionScope} from '../../../src/core/bench/result.js'
import {subscriptionFilter} from '../../../src/core/bench/run.js'
import {SeqTracker, stamp, stampPublisher, stampSeq, stampTime} from '../../../src/core/bench/stamp.js'

function transport(name: TransportResult['transport'], over: Partial<TransportResult> = {}): TransportResult {
  return {
    transport: name,
    url: `${name}://x`,
    sent: 100,
    received: 100,
    lost: 0,
    duplicates: 0,
    pub_errors: 0,
    elapsed_s: 1,
    msgs_per_s: 1000,
    recv_per_s: 1000,
    latency: {count: 100, p50_ms: 1, p90_ms: 2, p99_ms: 3, p999_ms: 4, max_ms: 5, mean_ms: 1.5},
    overhead: {mqtt_bytes: 34, pub_wire_bytes: 40, sub_wire_bytes: 36, pub_min_bytes: 40, sub_min_bytes: 36, note: ''},
    series: [],
    ...over,
  }
}

function result(results: TransportResult[]): BenchResult {
  return {tool: 'mqttws bench', version: 1, scenario: 'fan-in', started: '', environment: {node: '', platform: '', arch: '', cpus: 2, cpu: ''}, settings: {}, results}
}

describe('bench: assertions', () => {
  const scope = assertionScope(result([transport('tcp', {recv_per_s: 1000}), transport('ws', {recv_per_s: 600, lost: 2})]))

  it('exposes the first transport unprefixed and every transport prefixed', () => {
    assert.equal(scope.recv_per_s, 1000)
    assert.equal(scope['tcp.recv_per_s'], 1000)
    assert.equal(scope['ws.recv_per_s'], 600)
    assert.equal(scope['ws.lost'], 2)
  })

  const cases: Array<[string, boolean]> = [
    ['ws.recv_per_s >= 0.5 * tcp.recv_per_s', true],
    ['ws.recv_per_s >= 0.7 * tcp.recv_per_s', false],
    ['lost == 0', true],
    ['ws.lost == 0', false],
    ['p99_ms < 20 && lost == 0', true],
    ['p99_ms > 20 || ws.lost > 1', true],
    ['!(lost == 0)', false],
    ['(1 + 2) * 3 == 9 && 10 / 4 == 2.5 && -1 < 0', true],
    ['1e3 == 1000', true],
  ]
  for (const [text, expected] of cases) {
    it(`${text} → ${expected}`, () => {
      assert.equal(parseAssertion(text).evaluate(scope).ok, expected)
    })
  }

  it('names the figures it read, with their values', () => {
    assert.equal(parseAssertion('ws.recv_per_s >= 0.5 * tcp.recv_per_s').evaluate(scope).detail, 'ws.recv_per_s = 600, tcp.recv_per_s = 1000')
  })

  it('rejects an unknown figure, listing the known ones', () => {
    assert.throws(() => parseAssertion('foo > 1').evaluate(scope), /unknown figure "foo"; known: .*recv_per_s/)
  })

  for (const bad of ['', '1 +', '(1 < 2', 'a $ b', '1 2']) {
    it(`refuses the malformed expression ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseAssertion(bad), /--assert/)
    })
  }
})

describe('bench: baseline', () => {
  it('parses percentages and fractions', () => {
    assert.equal(parseRegression('10%'), 0.1)
    assert.equal(parseRegression('0.25'), 0.25)
    assert.throws(() => parseRegression('ten'), /not a percentage/)
  })

  it('flags throughput drops and p99 rises beyond the allowance, and nothing within it', () => {
    const base = result([transport('tcp', {recv_per_s: 1000, msgs_per_s: 1000}), transport('ws')])
    const ok = result([transport('tcp', {recv_per_s: 950, msgs_per_s: 950, latency: {...transport('tcp').latency, p99_ms: 3.2}}), transport('ws')])
    assert.deepEqual(compareWithBaseline(ok, base, 0.1), [])
    const bad = result([transport('tcp', {recv_per_s: 800, msgs_per_s: 1000, latency: {...transport('tcp').latency, p99_ms: 6}})])
    const regressions = compareWithBaseline(bad, base, 0.1)
    assert.deepEqual(
      regressions.map((r) => [r.transport, r.figure]),
      [
        ['tcp', 'recv_per_s'],
        ['tcp', 'p99_ms'],
      ],
    )
    const checks = evaluateGates(bad, [], base, 0.1)
    assert.equal(checks.filter((c) => !c.ok).length, 2)
    assert.match(checks[0].detail, /1000 → 800, 20% worse/)
  })
})

describe('bench: plan', () => {
  it('fills the scenario shape: fan-in has 1 subscriber, fan-out 1 publisher, latency is paced', () => {
    assert.equal(resolvePlan({scenario: 'fan-in', subscribers: 5}).subscribers, 1)
    assert.equal(resolvePlan({scenario: 'fan-out', publishers: 5}).publishers, 1)
    const latency = resolvePlan({scenario: 'latency'})
    assert.deepEqual([latency.publishers, latency.subscribers, latency.rate], [1, 1, 1000])
  })

  it('names the bad value', () => {
    assert.throws(() => resolvePlan({payloadSize: 8}), /--payload-size is 8: it must be a whole number from 16/)
    assert.throws(() => resolvePlan({transports: ['tcp', 'quic' as 'tcp']}), /transport "quic" is not one of tcp, tls, ws, wss/)
    assert.throws(() => resolvePlan({transports: ['ws', 'ws']}), /lists a transport twice/)
  })

  it('expands topic templates and derives the subscription filter', () => {
    assert.equal(topicFor('a/%i/%c', 3, 'id'), 'a/3/id')
    assert.equal(subscriptionFilter('mqttws/bench/%i'), 'mqttws/bench/+')
    assert.equal(subscriptionFilter('x/%c-%i/y'), 'x/+/y')
    assert.equal(subscriptionFilter('fixed/topic'), 'fixed/topic')
  })
})

describe('bench: stamps and sequence tracking', () => {
  it('round-trips publisher, sequence and time', () => {
    const b = Buffer.alloc(16)
    stamp(b, 7, 123456, 987654321012345n)
    assert.deepEqual([stampPublisher(b), stampSeq(b), stampTime(b)], [7, 123456, 987654321012345n])
  })

  it('counts uniques and duplicates across growth of its bitmap', () => {
    const t = new SeqTracker()
    for (let i = 0; i < 20_000; i++) t.add(i)
    t.add(5)
    t.add(19_999)
    assert.deepEqual([t.unique, t.duplicates], [20_000, 2])
  })
})

describe('bench: minimum wire bytes', () => {
  it('follows RFC 6455 header sizes', () => {
    assert.deepEqual([wsHeaderBytes(125), wsHeaderBytes(126), wsHeaderBytes(65535), wsHeaderBytes(65536)], [2, 4, 4, 10])
  })

  it('adds the mask client→broker only; TLS record overhead is shared, so not in the floor', () => {
    assert.deepEqual(minimumWireBytes('tcp', 34), {clientToBroker: 34, brokerToClient: 34, note: 'MQTT packet only'})
    const ws = minimumWireBytes('ws', 34)
    assert.deepEqual([ws.clientToBroker, ws.brokerToClient], [40, 36])
    const wss = minimumWireBytes('wss', 200)
    assert.deepEqual([wss.clientToBroker, wss.brokerToClient], [200 + 4 + 4, 200 + 4])
    assert.match(wss.note, /\+22 per TLS record/)
    assert.equal(minimumWireBytes('tls', 34).clientToBroker, 34)
  })
})
