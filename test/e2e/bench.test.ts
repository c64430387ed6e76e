/** End-to-end: `mqttws bench` (the built binary) against its embedded broker and against Mosquitto. */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {hasMosquitto, startMosquitto} from '../helpers/mosquitto.js'
import {runBin} from '../helpers/spawn.js'

describe('e2e: mqttws bench', function () {
  this.timeout(60000)

  it('compares tcp and ws: every QoS 1 message arrives once, and bytes on the wire match the frame arithmetic', async () => {
    const r = await runBin(['bench', 'compare', '--transports', 'tcp,ws', '-n', '300', '-P', '2', '-q', '1', '--json'], {timeoutMs: 45000})
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout)
    assert.equal(doc.tool, 'mqttws bench')
    assert.equal(doc.scenario, 'fan-in')
    assert.ok(doc.environment.node.startsWith('v'))
    assert.deepEqual(
      doc.results.map((t: {transport: string}) => t.transport),
      ['tcp', 'ws'],
    )
    for (const t of doc.results) {
      assert.equal(t.sent, 600, `${t.transport} sent`)
      assert.equal(t.received, 600, `${t.transport} received`)
      assert.equal(t.lost, 0)
      assert.equal(t.duplicates, 0)
      assert.equal(t.pubErrors, 0)
      assert.equal(t.latency.count, 600)
      assert.ok(t.latency.p50Ms <= t.latency.p99Ms && t.latency.p99Ms <= t.latency.maxMs)
      assert.ok(Array.isArray(t.series) && t.series.length >= 1)
    }
    const [tcp, ws] = doc.results
    // QoS 1 PUBLISH of 16 bytes to "mqttws/bench/N": 2 + 2 + 14 + 2 + 16 = 36 bytes.
    assert.equal(tcp.overhead.mqttBytes, 36)
    assert.equal(tcp.overhead.pubWireBytes, 36)
    assert.equal(tcp.overhead.subWireBytes, 36)
    // WS: +2 header each way, +4 mask client→broker; one frame per packet.
    assert.equal(ws.overhead.pubWireBytes, 36 + 2 + 4)
    assert.equal(ws.overhead.subWireBytes, 36 + 2)
    assert.equal(ws.overhead.pubMinBytes, 42)
    assert.equal(ws.overhead.subMinBytes, 38)
  })

  it('counts TLS bytes as encrypted: one 34-byte PUBLISH per record costs 22 more, over TLS and WSS', async () => {
    // Paced at 50/s, each message leaves alone: one TLS record (5 header + 1 type + 16 tag) per packet.
    const r = await runBin(['bench', 'latency', '--transports', 'tls,wss', '-n', '20', '-r', '50', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const [tls, wss] = JSON.parse(r.stdout).results
    assert.equal(tls.overhead.mqttBytes, 34)
    // Mostly one packet per record; now and then two share one (a timer tick late), never plaintext counts.
    const perRecord = (x: number, floor: number): boolean => x > floor + 11 && x <= floor + 22
    for (const [name, value, floor] of [
      ['tls client→broker', tls.overhead.pubWireBytes, 34],
      ['tls broker→client', tls.overhead.subWireBytes, 34],
      ['wss client→broker', wss.overhead.pubWireBytes, 34 + 6],
      ['wss broker→client', wss.overhead.subWireBytes, 34 + 2],
    ] as const) {
      assert.ok(perRecord(value, floor), `${name}: ${value} bytes per message, expected ${floor} + up to 22`)
    }
  })

  it('spreads publishers over worker threads (-w) with the same exact accounting', async () => {
    const r = await runBin(['bench', 'compare', '--transports', 'tcp,ws', '-n', '250', '-P', '4', '-q', '1', '-w', '2', '--json'], {timeoutMs: 45000})
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout)
    assert.equal(doc.settings.workers, 2)
    for (const t of doc.results) {
      assert.deepEqual([t.sent, t.received, t.lost, t.duplicates, t.pubErrors], [1000, 1000, 0, 0, 0], t.transport)
    }
    const [tcp, ws] = doc.results
    assert.deepEqual([tcp.overhead.pubWireBytes, ws.overhead.pubWireBytes, ws.overhead.subWireBytes], [36, 42, 38])
  })

  it('spreads subscribers over worker threads too (-w): exact counts and one latency histogram merged from both', async () => {
    const r = await runBin(['bench', 'fan-out', '--transports', 'tcp,ws', '-S', '4', '-n', '200', '-q', '1', '-w', '2', '--json'], {timeoutMs: 45000})
    assert.equal(r.code, 0, r.stderr)
    for (const t of JSON.parse(r.stdout).results) {
      assert.deepEqual(t.generatorThreads, {publishers: 1, subscribers: 2}, t.transport)
      assert.deepEqual([t.sent, t.expected, t.received, t.lost, t.duplicates, t.pubErrors], [200, 800, 800, 0, 0, 0], t.transport)
      // Every delivery of both workers is in the merged histogram.
      assert.equal(t.latency.count, 800, t.transport)
    }
  })

  it('bounds each publisher with --inflight, QoS 0 and 1, on one thread and on workers, losing nothing', async () => {
    for (const extra of [['-q', '0'], ['-q', '1', '-w', '2']]) {
      const r = await runBin(['bench', 'compare', '--transports', 'tcp,ws', '-P', '3', '-n', '400', '--inflight', '8', ...extra, '--json'], {timeoutMs: 45000})
      assert.equal(r.code, 0, r.stderr)
      const doc = JSON.parse(r.stdout)
      assert.equal(doc.settings.inflight, 8)
      for (const t of doc.results) assert.deepEqual([t.sent, t.received, t.lost, t.duplicates, t.pubErrors], [1200, 1200, 0, 0, 0], `${extra.join(' ')} ${t.transport}`)
    }
  })

  it('measures the bytes the broker\'s outbound topic aliases save (-V 5 --topic-alias-max), against the same run without', async () => {
    const topic = 'mqttws/bench/a-rather-long-topic-name-for-measuring-what-aliases-save/sensor-%i'
    const run = async (aliasMax: number, extra: string[] = []): Promise<Array<{transport: string; received: number; lost: number; overhead: Record<string, number>}>> => {
      const r = await runBin(['bench', 'compare', '--transports', 'tcp,ws', '-V', '5', '-P', '2', '-n', '300', '-t', topic, '--topic-alias-max', String(aliasMax), ...extra, '--json'], {timeoutMs: 45000})
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(r.stdout).results
    }
    const off = await run(0)
    for (const extra of [[], ['-q', '1', '-w', '2']]) {
      const on = await run(8, extra)
      for (const [i, t] of on.entries()) {
        const what = `${extra.join(' ')} ${t.transport}`
        assert.deepEqual([t.received, t.lost], [600, 0], what)
        assert.equal(off[i].overhead.topicAliasBytesSaved, undefined)
        // Two topics of 80 bytes, each sent in full once: every other delivery carries a 2-byte alias instead.
        assert.ok(t.overhead.subWireBytes < off[i].overhead.subWireBytes - 60, `${what}: ${t.overhead.subWireBytes} vs ${off[i].overhead.subWireBytes} bytes per delivery`)
        assert.ok(t.overhead.topicAliasBytesSaved > 600 * 60, `${what}: saved ${t.overhead.topicAliasBytesSaved}`)
        // Without aliases, as bench works it out from what it received: what the run without them measured (QoS 1 adds the packet id).
        assert.equal(t.overhead.subWireBytesWithoutAliases, off[i].overhead.subWireBytes + (extra.length > 0 ? 2 : 0), what)
      }
    }
  })

  it('refuses --topic-alias-max without MQTT 5 (exit 2)', async () => {
    const r = await runBin(['bench', 'fan-in', '--topic-alias-max', '8', '-n', '1'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /topic aliases are MQTT 5; add -V 5/)
  })

  it('refuses a negative --inflight (exit 2)', async () => {
    const r = await runBin(['bench', 'fan-in', '--inflight', '-1', '-n', '1'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /inflight/)
  })

  it('measures what permessage-deflate saves (--ws-deflate, with serve accepting it)', async () => {
    const r = await runBin(['bench', 'latency', '--transports', 'ws', '-n', '100', '-r', '500', '--ws-deflate', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const [ws] = JSON.parse(r.stdout).results
    assert.equal(ws.overhead.deflate, true)
    assert.equal(ws.received, 100)
    // Repeated topics and payloads compress well below the uncompressed 34 + 6 / 34 + 2 bytes.
    assert.ok(ws.overhead.pubWireBytes < 34, `client→broker ${ws.overhead.pubWireBytes}`)
    assert.ok(ws.overhead.subWireBytes < 34, `broker→client ${ws.overhead.subWireBytes}`)
    const plain = await runBin(['bench', 'latency', '--transports', 'ws', '-n', '20', '-r', '500', '--json'])
    assert.equal(JSON.parse(plain.stdout).results[0].overhead.deflate, undefined)
  })

  it('conn opens every connection and reports the embedded broker\'s memory per connection', async () => {
    const r = await runBin(['bench', 'conn', '--transports', 'tcp,ws', '-c', '60', '--json'])
    assert.equal(r.code, 0, r.stderr)
    for (const t of JSON.parse(r.stdout).results) {
      assert.deepEqual([t.sent, t.connects, t.connectFailures], [60, 60, {}], t.transport)
      assert.ok(t.connectsPerS > 0)
      assert.ok(t.brokerRssAfter > 0 && Number.isInteger(t.brokerBytesPerConnection), 'memory read from /proc')
    }
  })

  it('passes and fails --assert with the right exit code, naming the failed check', async () => {
    const pass = await runBin(['bench', 'fan-in', '-n', '50', '-P', '1', '--assert', 'lost == 0', '--assert', 'received == sent'])
    assert.equal(pass.code, 0, pass.stderr)
    assert.match(pass.stdout, /✓ pass\s+lost == 0/)
    const fail = await runBin(['bench', 'fan-in', '-n', '50', '-P', '1', '--assert', 'recv_per_s < 0'])
    assert.equal(fail.code, 1)
    assert.match(fail.stdout, /✗ FAIL\s+recv_per_s < 0\s+\(recv_per_s = \d+\)/)
    assert.match(fail.stderr, /1 of 1 checks failed/)
  })

  it('keeps --json one valid document when a check fails, and compares with a baseline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqttws-bench-'))
    const fail = await runBin(['bench', 'latency', '-n', '20', '-r', '500', '--json', '--assert', 'p99_ms < 0'])
    assert.equal(fail.code, 1)
    const doc = JSON.parse(fail.stdout)
    assert.equal(doc.checks[0].ok, false)
    const base = join(dir, 'base.json')
    const {writeFileSync} = await import('node:fs')
    writeFileSync(base, fail.stdout)
    // A baseline that claims an impossible throughput: the new run must be flagged.
    doc.results[0].recvPerS = 1e12
    writeFileSync(base, JSON.stringify(doc))
    const regress = await runBin(['bench', 'latency', '-n', '20', '-r', '500', '--baseline', base, '--max-regression', '10%'])
    assert.equal(regress.code, 1)
    assert.match(regress.stdout, /tcp\.recv_per_s within 10% of the baseline/)
  })

  it('writes an HTML report and CSV', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqttws-bench-'))
    const html = join(dir, 'r.html')
    const csv = join(dir, 'r.csv')
    const r = await runBin(['bench', 'fan-out', '-S', '3', '-n', '30', '--report', html, '--csv', csv])
    assert.equal(r.code, 0, r.stderr)
    const page = readFileSync(html, 'utf8')
    assert.match(page, /^<!doctype html>/)
    assert.match(page, /<svg[^>]+aria-label="messages per second over time"/)
    assert.ok(!/<script/i.test(page), 'self-contained, no scripts')
    const rows = readFileSync(csv, 'utf8').trim().split('\n')
    assert.equal(rows[0].split(',')[0], 'transport')
    assert.equal(rows[1].split(',')[2], '90', 'fan-out: 30 messages × 3 subscribers received')
  })

  it('refuses bad input with exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['bench', 'nope'], /Expected nope to be one of/],
      [['bench', '--transports', 'quic'], /transport "quic" is not one of/],
      [['bench', '--url', 'http://127.0.0.1:1'], /use mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//],
      [['bench', '--assert', 'lost =='], /--assert 'lost ==': the expression ends too early/],
    ]
    for (const [args, message] of cases) {
      const r = await runBin(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, message)
    }
  })

  it('runs the codec micro-benchmarks', async () => {
    const r = await runBin(['bench', 'codec', '--sizes', '16', '--time', '20', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout)
    assert.deepEqual(
      doc.results.map((c: {name: string}) => c.name),
      ['encode PUBLISH 16 B', 'decode PUBLISH 16 B', 'WS frame wrap 16 B (+2)', 'WS frame unwrap 16 B'],
    )
    for (const c of doc.results) assert.ok(c.opsPerS > 0)
  })

  it('measures Mosquitto by URL', async function () {
    if (!hasMosquitto()) this.skip()
    const mosq = await startMosquitto()
    try {
      const r = await runBin(['bench', 'fan-in', '--url', `mqtt://127.0.0.1:${mosq.port}`, '-n', '200', '-P', '2', '-q', '1', '--json'])
      assert.equal(r.code, 0, r.stderr)
      const [t] = JSON.parse(r.stdout).results
      assert.equal(t.transport, 'tcp')
      assert.equal(t.received, 400)
      assert.equal(t.lost, 0)
      assert.equal(t.overhead.pubWireBytes, t.overhead.mqttBytes)
    } finally {
      await mosq.stop()
    }
  })
})
