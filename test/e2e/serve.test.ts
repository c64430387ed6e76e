/** End-to-end: the built binary, started as a user would, with real clients. */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {connectMqttJs, nextMessages} from '../helpers/mqttjs.js'
import {testCertificateFiles} from '../helpers/certs.js'
import {killQuietly, runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'
import mqtt from 'mqtt'

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

describe('e2e: mqttws serve', function () {
  this.timeout(30000)
  let serve: ServeProcess | undefined

  afterEach(async () => {
    if (serve) await serve.stop('SIGKILL')
    serve = undefined
  })

  it('prints each listener as a JSON line with its real port, relays WS → TCP, and exits 0 on SIGTERM', async () => {
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt'])
    assert.equal(serve.listeners.length, 2)
    const [tcp, ws] = serve.listeners
    assert.equal(tcp.scheme, 'mqtt')
    assert.ok(tcp.port > 0)
    assert.equal(tcp.url, `mqtt://127.0.0.1:${tcp.port}`)
    assert.equal(ws.url, `ws://127.0.0.1:${ws.port}/mqtt`)
    const sub = await connectMqttJs(tcp.url)
    const pub = await connectMqttJs(ws.url, {protocolVersion: 5})
    try {
      await sub.subscribeAsync('e2e/#', {qos: 1})
      const got = nextMessages(sub, 1)
      await pub.publishAsync('e2e/a', Buffer.from([0, 1, 2, 255]), {qos: 1})
      const [m] = await got
      assert.equal(m.topic, 'e2e/a')
      assert.deepEqual([...m.payload], [0, 1, 2, 255])
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()])
    }
    const code = await serve.stop('SIGTERM')
    assert.equal(code, 0)
    assert.match(serve.stdoutLines.at(-1) ?? '', /"event":"stopped","signal":"SIGTERM"/)
    serve = undefined
  })

  it('exits 0 on SIGINT and disconnects its clients', async () => {
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0'])
    const client = await connectMqttJs(serve.listeners[0].url, {protocolVersion: 5})
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    const code = await serve.stop('SIGINT')
    assert.equal(code, 0)
    await closed
    client.end(true)
    serve = undefined
  })

  it('serves mqtts:// and wss:// with --dev-cert, trusted through the certificate file it writes', async () => {
    serve = await startServe(['--dev-cert', '--listen', 'mqtts://127.0.0.1:0', '--listen', 'wss://127.0.0.1:0/mqtt'])
    const [tlsL, wssL] = serve.listeners
    assert.equal(tlsL.scheme, 'mqtts')
    assert.equal(wssL.scheme, 'wss')
    assert.ok(serve.devCertFile, 'serve --json announces the certificate file')
    const ca = readFileSync(serve.devCertFile)
    const sub = await connectMqttJs(tlsL.url, {ca})
    const pub = mqtt.connect(wssL.url, {reconnectPeriod: 0, ca})
    try {
      await new Promise<void>((resolve, reject) => {
        pub.once('connect', () => resolve())
        pub.once('error', reject)
      })
      await sub.subscribeAsync('tls/t')
      const got = nextMessages(sub, 1)
      await pub.publishAsync('tls/t', 'secure')
      assert.equal((await got)[0].payload.toString(), 'secure')
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()])
    }
  })

  it('reads listeners and settings from a YAML config file, and flags override it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqttws-e2e-'))
    const file = join(dir, 'mqttws.yaml')
    writeFileSync(file, 'listeners:\n  - mqtt://127.0.0.1:0\n  - url: ws://127.0.0.1:0\n    ws: {path: /custom}\nlimits:\n  maxPacketSize: 4096\n')
    serve = await startServe(['--config', file])
    assert.deepEqual(
      serve.listeners.map((l) => l.scheme),
      ['mqtt', 'ws'],
    )
    assert.equal(serve.listeners[1].path, '/custom')
    await serve.stop()
    serve = await startServe(['--config', file, '--listen', 'ws://127.0.0.1:0/other'])
    assert.equal(serve.listeners.length, 1)
    assert.equal(serve.listeners[0].path, '/other')
  })

  it('reads TLS files given with --tls-cert/--tls-key', async () => {
    const files = await testCertificateFiles()
    serve = await startServe(['--tls-cert', files.cert, '--tls-key', files.key, '--listen', 'mqtts://127.0.0.1:0'])
    const client = await connectMqttJs(serve.listeners[0].url)
    await client.endAsync()
  })

  it('says which port is in use and what to do, and exits 1', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const r = await runBin(['serve', '--listen', `mqtt://127.0.0.1:${port}`])
      assert.equal(r.code, 1)
      assert.match(r.stderr, new RegExp(`port ${port} is in use \\(EADDRINUSE\\): pick another with --listen mqtt://127\\.0\\.0\\.1:${port + 1}`))
    } finally {
      blocker.close()
    }
  })

  it('refuses bad settings with exit 2 and names the bad value', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--listen', 'foo://127.0.0.1:1'], /unknown scheme "foo:"/],
      [['--listen', 'mqtt://127.0.0.1:99999'], /port 99999/],
      [['--listen', 'wss://127.0.0.1:0'], /needs a certificate and key/],
      [['--config', '/nonexistent/mqttws.yaml'], /config file \/nonexistent\/mqttws\.yaml does not exist/],
      [['--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem'], /\/nonexistent\/c\.pem does not exist/],
      [['--ws-path', 'mqtt'], /starts with \//],
      [['--log-level', 'loud'], /Expected --log-level=loud to be one of/],
      [['--no-such-flag'], /unknown flag --no-such-flag\nSee `mqttws serve --help`\./],
    ]
    for (const [args, message] of cases) {
      const r = await runBin(['serve', ...args])
      assert.equal(r.code, 2, `${args.join(' ')} → exit ${r.code}\n${r.stderr}`)
      assert.match(r.stderr, message, args.join(' '))
    }
    const dir = mkdtempSync(join(tmpdir(), 'mqttws-e2e-'))
    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, 'limits:\n  maxPaketSize: 10\n')
    const r = await runBin(['serve', '--config', bad])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /unknown setting "limits\.maxPaketSize"/)
  })

  it('interoperates with mosquitto_pub and mosquitto_sub over TCP (3.1, 3.1.1 and 5)', async function () {
    if (!hasCommand('mosquitto_sub') || !hasCommand('mosquitto_pub')) this.skip()
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0'])
    const port = String(serve.listeners[0].port)
    for (const version of ['mqttv31', 'mqttv311', 'mqttv5']) {
      const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-V', version, '-t', 'mosq/#', '-C', '1', '-v', '-q', '1'])
      try {
        let out = ''
        sub.stdout.on('data', (d) => (out += d))
        const done = new Promise<number | null>((resolve) => sub.on('exit', (code) => resolve(code)))
        // Publish until the subscriber has subscribed and received (bounded: 50 tries).
        for (let i = 0; i < 50 && sub.exitCode === null; i++) {
          execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-V', version, '-t', 'mosq/x', '-m', `hello ${version}`, '-q', '1'])
          await new Promise((r) => setTimeout(r, 100))
        }
        assert.equal(await done, 0)
        assert.equal(out.trim(), `mosq/x hello ${version}`)
      } finally {
        killQuietly(sub)
      }
    }
  })
})
