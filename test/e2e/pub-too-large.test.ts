/**
 * Issue 18 item 5: a message larger than the broker accepts is never reported as sent.
 * MQTT 5: the CONNACK's Maximum Packet Size lets pub refuse before sending; 3.1.1: the
 * broker can only close, and pub notices (a PINGREQ after QoS 0) and explains. Over
 * WebSocket the broker's log says that it closed the connection (1009), not the client.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

describe('e2e: pub of a message over the broker maximum packet size', function () {
  this.timeout(120_000)
  let serve: ServeProcess
  let dir: string
  let file: string
  let tcp: string
  let ws: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqttws-large-'))
    file = join(dir, 'big.bin')
    writeFileSync(file, Buffer.alloc(8192, 7))
    serve = await startServe(['--listen', 'tcp://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--max-packet-size', '4096'])
    tcp = serve.listeners.find((l) => l.scheme === 'mqtt')!.url
    ws = serve.listeners.find((l) => l.scheme === 'ws')!.url
  })

  after(async () => {
    await serve?.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  it('MQTT 3.1.1, QoS 0: exits 1 and says the broker closed the connection after the PUBLISH, and how to raise the limit', async () => {
    const r = await runBin(['pub', '-L', tcp, '-V', '3.1.1', '-t', 'big', '-f', file])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /closed the connection after a PUBLISH of 82\d\d bytes/)
    assert.match(r.stderr, /serve --max-packet-size/)
  })

  it('MQTT 3.1.1, QoS 1: explains more than "the broker closed the connection"', async () => {
    const r = await runBin(['pub', '-L', tcp, '-V', '311', '-q', '1', '-t', 'big', '-f', file])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /after a PUBLISH of 82\d\d bytes.*maximum packet size.*serve --max-packet-size/)
  })

  it('MQTT 5: refuses before sending, naming the broker limit and serve --max-packet-size', async () => {
    const r = await runBin(['pub', '-L', tcp, '-t', 'big', '-f', file])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /not sent: the PUBLISH is 82\d\d bytes, larger than the broker's maximum packet size of 4096 bytes/)
    assert.match(r.stderr, /serve --max-packet-size/)
  })

  it('over WebSocket: pub fails, and the broker logs that it closed the connection with 1009', async () => {
    const r = await runBin(['pub', '-L', ws, '-V', '3.1.1', '-t', 'big', '-f', file])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /serve --max-packet-size/)
    for (let i = 0; i < 100 && !/closed the WebSocket with 1009/.test(serve.stderr()); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    assert.match(serve.stderr(), /the broker closed the WebSocket with 1009: a message of more than 4096 bytes/)
    assert.doesNotMatch(serve.stderr(), /connection closed by the client/)
  })

  it('a message within the limit still exits 0 (QoS 0 waits for the PINGRESP)', async () => {
    const r = await runBin(['pub', '-L', tcp, '-V', '3.1.1', '-t', 'small', '-m', 'hello'])
    assert.equal(r.code, 0, r.stderr)
  })
})
