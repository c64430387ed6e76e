/**
 * A 1 MiB payload gets through a broker started on its defaults, as it does through
 * Mosquitto: Debian's mosquitto_pub to mosquitto_sub over TCP, MQTT.js over WebSocket
 * (3.1.1 and 5), and `mqttws pub` from a file. The default maximum packet size (2 MiB) still
 * refuses a larger packet from its header.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {DEFAULTS} from '../../src/core/config.js'
import {connectMqttJs, nextMessages} from '../helpers/mqttjs.js'
import {runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub'
const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub'
const MIB = 1024 * 1024

function run(cmd: string, args: string[]): Promise<{code: number | null; stdout: Buffer; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']})
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout: Buffer.concat(out), stderr})
    })
  })
}

describe('e2e: a 1 MiB payload on the defaults', function () {
  this.timeout(60_000)
  let serve: ServeProcess
  let tcp: string
  let ws: string
  let port: number
  const payload = randomBytes(MIB)
  const dir = mkdtempSync(join(tmpdir(), 'mqttws-large-'))
  const file = join(dir, '1MiB.bin')
  writeFileSync(file, payload)

  before(async () => {
    assert.ok(DEFAULTS.limits.maxPacketSize >= MIB + 65_536 + 1024, 'the default lets a 1 MiB payload through with a long topic and properties')
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt'])
    tcp = serve.listeners[0].url
    ws = serve.listeners[1].url
    port = serve.listeners[0].port
  })

  after(async () => {
    await serve?.stop('SIGKILL')
  })

  it("Debian's mosquitto_pub to mosquitto_sub over TCP (MQTT 5 and 3.1.1)", async function () {
    if (!existsSync(MOSQUITTO_PUB) || !existsSync(MOSQUITTO_SUB)) this.skip()
    for (const v of ['mqttv5', 'mqttv311']) {
      const topic = `large/mosquitto/${v}`
      const sub = run(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', String(port), '-V', v, '-t', topic, '-C', '1', '-N', '-W', '15'])
      await new Promise((r) => setTimeout(r, 400))
      const pub = await run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', String(port), '-V', v, '-t', topic, '-q', '1', '-f', file])
      assert.equal(pub.code, 0, pub.stderr)
      const got = await sub
      assert.equal(got.code, 0, got.stderr)
      assert.ok(got.stdout.equals(payload), `${v}: ${got.stdout.length} bytes arrived`)
    }
  })

  it('MQTT.js over WebSocket (5 and 3.1.1), and mqttws pub -f', async () => {
    for (const protocolVersion of [5, 4] as const) {
      const sub = await connectMqttJs(ws, {protocolVersion})
      const pub = await connectMqttJs(ws, {protocolVersion})
      try {
        await sub.subscribeAsync('large/js', {qos: 1})
        const got = nextMessages(sub, 1)
        await pub.publishAsync('large/js', payload, {qos: 1})
        assert.ok((await got)[0].payload.equals(payload))
        const fromCli = nextMessages(sub, 1)
        const r = await runBin(['pub', '-L', tcp, '-t', 'large/js', '-f', file, '-q', '1', ...(protocolVersion === 4 ? ['-V', '3.1.1'] : [])])
        assert.equal(r.code, 0, r.stderr)
        assert.ok((await fromCli)[0].payload.equals(payload))
      } finally {
        sub.end(true)
        pub.end(true)
      }
    }
  })
})
