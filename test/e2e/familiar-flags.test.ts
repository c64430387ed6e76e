/**
 * Issue 18 item 6: what mosquitto and MQTTX CLI users type works, or is answered with our
 * spelling: -V 311/31, --hostname, --client-id, -I, -d (a packet trace), sub -E,
 * sub --format json, and MQTTX's -l ws.
 */
import assert from 'node:assert/strict'
import {runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'
import {connectMqttJs} from '../helpers/mqttjs.js'

describe('e2e: familiar flags (mosquitto, MQTTX)', function () {
  this.timeout(120_000)
  let serve: ServeProcess
  let port: number

  before(async () => {
    serve = await startServe(['--listen', 'tcp://127.0.0.1:0'])
    port = serve.listeners[0].port
  })

  after(async () => {
    await serve?.stop()
  })

  it('-V 311 --hostname --client-id -d: a packet trace on stderr, both directions, with ids, reason codes and sizes', async () => {
    const r = await runBin(['pub', '-V', '311', '--hostname', '127.0.0.1', '-p', String(port), '--client-id', 'fam-1', '-d', '-t', 'fam/a', '-m', 'hi', '-q', '1'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /^→ CONNECT \(MQTT 3\.1\.1, client id "fam-1", clean, keepalive 60\) \d+ bytes$/m)
    assert.match(r.stderr, /^← CONNACK \(return code 0, session present 0\) 4 bytes$/m)
    assert.match(r.stderr, /^→ PUBLISH \(id 1, QoS 1, topic "fam\/a"\) 13 bytes$/m)
    assert.match(r.stderr, /^← PUBACK \(id 1\) 4 bytes$/m)
    assert.match(r.stderr, /^→ DISCONNECT 2 bytes$/m)
  })

  it('-V 31 speaks MQTT 3.1; -V 5 traces MQTT 5 reason codes', async () => {
    const v31 = await runBin(['pub', '-V', '31', '-h', '127.0.0.1', '-p', String(port), '-d', '-t', 'fam/b', '-m', 'x'])
    assert.equal(v31.code, 0, v31.stderr)
    assert.match(v31.stderr, /→ CONNECT \(MQTT 3\.1,/)
    assert.match(v31.stderr, /→ PINGREQ 2 bytes[^]*← PINGRESP 2 bytes/)
    const v5 = await runBin(['pub', '-h', '127.0.0.1', '-p', String(port), '-d', '-t', 'fam/c', '-m', 'x', '-q', '2'])
    assert.equal(v5.code, 0, v5.stderr)
    assert.match(v5.stderr, /← CONNACK \(0x00 success, session present 0\)/)
    assert.match(v5.stderr, /← PUBREC \(id 1, 0x10 no matching subscribers\)/)
  })

  it('-I PREFIX: the client id is the prefix and the process id', async () => {
    const r = await runBin(['pub', '-h', '127.0.0.1', '-p', String(port), '-I', 'famprefix-', '-d', '-t', 'fam/d', '-m', 'x'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /client id "famprefix-\d+"/)
  })

  it('sub -E exits 0 once subscribed; with -c the session keeps what arrives meanwhile', async () => {
    const e = await runBin(['sub', '-h', '127.0.0.1', '-p', String(port), '-i', 'fam-e', '-c', '-q', '1', '-t', 'fam/e', '-E'])
    assert.equal(e.code, 0, e.stderr)
    assert.equal(e.stdout, '')
    const pub = await connectMqttJs(`mqtt://127.0.0.1:${port}`)
    await pub.publishAsync('fam/e', 'kept', {qos: 1})
    await pub.endAsync()
    const r = await runBin(['sub', '-h', '127.0.0.1', '-p', String(port), '-i', 'fam-e', '-c', '-q', '1', '-t', 'fam/e', '-C', '1', '-W', '20'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'kept\n')
  })

  it('sub --format json prints one JSON object per message (as ndjson)', async () => {
    const sub = runBin(['sub', '-h', '127.0.0.1', '-p', String(port), '-t', 'fam/json', '--format', 'json', '-C', '1', '-W', '20'])
    const pub = await connectMqttJs(`mqtt://127.0.0.1:${port}`)
    // Publish until sub is there (it subscribes after its start-up); retained so one is enough.
    await pub.publishAsync('fam/json', '{"v":1}', {qos: 1, retain: true})
    const r = await sub
    await pub.publishAsync('fam/json', '', {qos: 1, retain: true})
    await pub.endAsync()
    assert.equal(r.code, 0, r.stderr)
    const line = JSON.parse(r.stdout.trim()) as {topic: string; payload: unknown}
    assert.equal(line.topic, 'fam/json')
  })

  it("MQTTX's -l ws is answered with --protocol ws", async () => {
    for (const cmd of ['pub', 'sub']) {
      const r = await runBin([cmd, '-t', 'a', '-l', 'ws'])
      assert.equal(r.code, 2)
      assert.match(r.stderr, /use --protocol ws \(-l reads stdin lines, as in mosquitto_pub/)
    }
  })
})
