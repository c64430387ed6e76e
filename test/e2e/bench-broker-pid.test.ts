/** End-to-end: `mqttws bench conn --url … --broker-pid PID` reports any local broker's memory and CPU time per connection. */
import assert from 'node:assert/strict'
import {hasMosquitto, startMosquitto} from '../helpers/mosquitto.js'
import type {RunningMosquitto} from '../helpers/mosquitto.js'
import {runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

interface ConnResult {
  transport: string
  connects: number
  brokerRssBefore?: number
  brokerRssAfter?: number
  brokerBytesPerConnection?: number
  brokerCpuPerConnectUs?: number
}

/** Far above any pid_max (2^22 at most), so never a running process. */
const NO_SUCH_PID = '99999999'

describe('e2e: mqttws bench --broker-pid', function () {
  this.timeout(45000)

  let serve: ServeProcess | undefined
  let mosquitto: RunningMosquitto | undefined

  afterEach(async () => {
    await serve?.stop('SIGKILL')
    await mosquitto?.stop()
    serve = undefined
    mosquitto = undefined
  })

  function assertMemory(r: ConnResult, connections: number): void {
    assert.equal(r.connects, connections, `${r.transport}: connections`)
    assert.ok(r.brokerRssBefore! > 0, `${r.transport}: RSS before`)
    assert.ok(r.brokerRssAfter! > 0, `${r.transport}: RSS after`)
    assert.ok(r.brokerBytesPerConnection! > 0, `${r.transport}: bytes per connection ${r.brokerBytesPerConnection}`)
    // /proc counts CPU in 10 ms ticks: hundreds of connects cost any broker several.
    assert.ok(r.brokerCpuPerConnectUs! > 0, `${r.transport}: CPU per connect ${r.brokerCpuPerConnectUs} µs`)
  }

  it('measures a separately started mqttws serve over tcp and ws', async () => {
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--log-level', 'error'])
    const urls = serve.listeners.flatMap((l) => ['--url', l.url])
    const r = await runBin(['bench', 'conn', ...urls, '-c', '500', '--broker-pid', String(serve.child.pid), '--json', '--assert', 'tcp.broker_cpu_per_connect_us > 0'], {timeoutMs: 30000})
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as {results: ConnResult[]; settings: {target: string}}
    assert.deepEqual(doc.results.map((t) => t.transport), ['tcp', 'ws'])
    for (const t of doc.results) assertMemory(t, 500)
    assert.match(doc.settings.target, new RegExp(`pid ${serve.child.pid}`))
  })

  it('measures Mosquitto', async function () {
    if (!hasMosquitto()) this.skip()
    mosquitto = await startMosquitto()
    const r = await runBin(['bench', 'conn', '--url', `mqtt://127.0.0.1:${mosquitto.port}`, '-c', '500', '--broker-pid', String(mosquitto.child.pid), '--json'], {timeoutMs: 30000})
    assert.equal(r.code, 0, r.stderr)
    const [tcp] = (JSON.parse(r.stdout) as {results: ConnResult[]}).results
    assertMemory(tcp!, 500)
  })

  it('fails with a usage error (exit 2) for a pid that does not exist', async () => {
    const r = await runBin(['bench', 'conn', '--url', 'mqtt://127.0.0.1:1', '-c', '1', '--broker-pid', NO_SUCH_PID])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, new RegExp(`--broker-pid ${NO_SUCH_PID}: no such process`))
  })

  it('needs --url (without it bench measures its own broker)', async () => {
    const r = await runBin(['bench', 'conn', '-c', '1', '--broker-pid', '1'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /--url/)
  })
})
