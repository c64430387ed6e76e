/**
 * The authentication chain with a Mosquitto password file: MQTT.js 3.1.1 and 5 over
 * every transport, files made by Debian's mosquitto_passwd ($7$ and $6$) and by mqttws,
 * reload without dropping clients, refused clients leaving nothing behind, and a storm of
 * wrong passwords beside a connected subscriber.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, renameSync} from 'node:fs'
import {join} from 'node:path'
import net from 'node:net'
import {editPasswordFile, parsePasswordFile} from '../../../src/core/auth/password-file.js'
import {hashPassword, parseHash, verifyPassword} from '../../../src/core/auth/password-hash.js'
import {SCHEMES, startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {connectCode, hasMosquittoPasswd, mosquittoPasswd, tempDir, tryConnect} from '../../helpers/auth.js'
import {connectMqttJs, delay, nextMessages} from '../../helpers/mqttjs.js'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'

const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub'

/** Runs a child without blocking the event loop (the broker under test runs in this process). */
function run(cmd: string, args: string[]): Promise<{status: number | null; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (status) => resolve({status, stderr}))
  })
}

describe('auth: password file', function () {
  this.timeout(30000)
  let dir: string
  let file: string
  let tb: TestBroker

  before(async function () {
    if (!hasMosquittoPasswd()) {
      console.log('    (skipped: /usr/bin/mosquitto_passwd is not installed; apt-get install mosquitto)')
      this.skip()
    }
    dir = tempDir()
    file = join(dir, 'passwd')
    mosquittoPasswd('-c', '-b', file, 'alice', 'alice-secret') // $7$ PBKDF2-SHA512, 101 iterations
    mosquittoPasswd('-H', 'sha512', '-b', file, 'carol', 'pa:ss wörd') // $6$ SHA-512
    await editPasswordFile(file, {op: 'set', user: 'dave', password: 'dave-secret'}) // ours: $7$ 210000
    // Authentication is tested here: every authenticated client may publish and subscribe.
    tb = await startBroker({auth: {authenticators: [{type: 'password-file', file}]}, authorization: {noMatch: 'allow'}})
  })

  after(async () => {
    await tb?.close()
  })

  it('reads the lines mosquitto_passwd writes ($7$ and $6$) and writes $7$ with 210000 iterations and a 16-byte salt', async () => {
    const {users, problems} = parsePasswordFile(readFileSync(file, 'utf8'), file)
    assert.deepEqual(problems, [])
    assert.equal(users.get('alice')?.kind, 'pbkdf2-sha512')
    assert.equal(users.get('carol')?.kind, 'sha512')
    const dave = users.get('dave')
    assert.ok(dave && dave.kind === 'pbkdf2-sha512')
    assert.equal(dave.iterations, 210000)
    assert.equal(dave.salt.length, 16)
    assert.equal(await verifyPassword(Buffer.from('dave-secret'), dave), true)
    assert.equal(await verifyPassword(Buffer.from('dave-secreT'), dave), false)
    const h = parseHash(await hashPassword('x', 1000))
    assert.ok(typeof h !== 'string' && h.kind === 'pbkdf2-sha512' && h.iterations === 1000)
    assert.match(String(parseHash('plaintext')), /not a \$6\$ or \$7\$ hash/)
  })

  for (const scheme of SCHEMES) {
    for (const version of [4, 5] as const) {
      const bad = version === 5 ? 0x86 : 4
      const noCreds = version === 5 ? 0x87 : 5
      it(`${scheme}, MQTT ${version === 5 ? '5' : '3.1.1'}: right password in, wrong or unknown → ${bad}, none → ${noCreds}`, async () => {
        const url = tb.urls[scheme]
        const o = {protocolVersion: version}
        assert.equal(await connectCode(url, {...o, username: 'alice', password: 'alice-secret'}), 0)
        assert.equal(await connectCode(url, {...o, username: 'carol', password: 'pa:ss wörd'}), 0)
        assert.equal(await connectCode(url, {...o, username: 'alice', password: 'alice-secreT'}), bad)
        assert.equal(await connectCode(url, {...o, username: 'alice'}), bad)
        assert.equal(await connectCode(url, {...o, username: 'mallory', password: 'alice-secret'}), bad)
        assert.equal(await connectCode(url, o), noCreds)
      })
    }
  }

  it('lets a user in whose line mqttws passwd wrote (the default 210000 iterations)', async () => {
    assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'dave', password: 'dave-secret'}), 0)
  })

  it("Debian's mosquitto_pub logs in with the password file and its message arrives; a wrong password is refused", async function () {
    if (!existsSync(MOSQUITTO_PUB)) {
      console.log('    (skipped: mosquitto_pub is not installed)')
      return this.skip()
    }
    const sub = await connectMqttJs(tb.urls.ws, {username: 'alice', password: 'alice-secret'})
    try {
      await sub.subscribeAsync('pw/mosq')
      const got = nextMessages(sub, 1)
      const port = String(tb.ports.mqtt)
      const ok = await run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', port, '-u', 'carol', '-P', 'pa:ss wörd', '-t', 'pw/mosq', '-m', 'hi', '-V', 'mqttv311'])
      assert.equal(ok.status, 0, ok.stderr)
      assert.equal((await got)[0].payload.toString(), 'hi')
      const refused = await run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', port, '-u', 'carol', '-P', 'wrong', '-t', 'pw/mosq', '-m', 'no', '-V', 'mqttv5'])
      assert.notEqual(refused.status, 0)
      assert.match(refused.stderr, /Bad User Name or Password/i)
    } finally {
      sub.end(true)
    }
  })

  it('a refused CONNECT leaves nothing: the session and its queue stay, the Will is not published, the connected holder of the id stays', async () => {
    const id = `keep-${process.pid}`
    // A persistent session with a subscription, then offline.
    const first = await connectMqttJs(tb.urls.mqtt, {clientId: id, clean: false, protocolVersion: 4, username: 'alice', password: 'alice-secret'})
    await first.subscribeAsync('keep/q', {qos: 1})
    first.end()
    await delay(100)
    const watcher = await connectMqttJs(tb.urls.mqtt, {username: 'alice', password: 'alice-secret'})
    await watcher.subscribeAsync('keep/will')
    const publisher = await connectMqttJs(tb.urls.mqtt, {username: 'alice', password: 'alice-secret'})
    await publisher.publishAsync('keep/q', 'queued', {qos: 1})
    let wills = 0
    watcher.on('message', (t) => {
      if (t === 'keep/will') wills++
    })
    // The same id, clean start and a Will, wrong password: refused.
    const o = await tryConnect(tb.urls.mqtt, {clientId: id, clean: true, protocolVersion: 5, username: 'alice', password: 'nope', will: {topic: 'keep/will', payload: Buffer.from('x'), qos: 0, retain: false}})
    assert.equal(o.code, 0x86)
    assert.ok(tb.broker.sessionState(id), 'the session is still there')
    // Back with the right password: the session and its queued message are there.
    // Listening before CONNACK: the queued message comes right behind it.
    const again = mqtt.connect(tb.urls.mqtt, {clientId: id, clean: false, protocolVersion: 4, username: 'alice', password: 'alice-secret', reconnectPeriod: 0})
    const msgs = nextMessages(again, 1)
    assert.equal((await msgs)[0].payload.toString(), 'queued')
    // Now connected: a refused CONNECT with its id does not take it over.
    assert.equal(await connectCode(tb.urls.ws, {clientId: id, protocolVersion: 5, username: 'alice', password: 'nope'}), 0x86)
    const live = nextMessages(again, 1)
    await publisher.publishAsync('keep/q', 'live', {qos: 1})
    assert.equal((await live)[0].payload.toString(), 'live')
    await delay(100)
    assert.equal(wills, 0, 'no Will of a refused client')
    for (const c of [again, watcher, publisher]) c.end(true)
  })

  it('reloads the file (Broker.reloadAuth) without dropping connected clients; a broken file keeps the old users', async () => {
    const alice = await connectMqttJs(tb.urls.mqtt, {username: 'alice', password: 'alice-secret'})
    let closed = false
    alice.on('close', () => (closed = true))
    assert.equal(await connectCode(tb.urls.mqtt, {username: 'erin', password: 'erin-secret'}), 4)
    mosquittoPasswd('-b', file, 'erin', 'erin-secret')
    assert.deepEqual(await tb.broker.reloadAuth(), [{id: 'password-file', ok: true}, {id: 'authorization', ok: true}])
    assert.equal(await connectCode(tb.urls.mqtt, {username: 'erin', password: 'erin-secret'}), 0)
    // A file that cannot be read: the reload reports it, and the users loaded before still work.
    renameSync(file, `${file}.away`)
    try {
      const results = (await tb.broker.reloadAuth()) as Array<{ok: boolean; error?: string}>
      assert.equal(results[0].ok, false)
      assert.match(results[0].error!, /does not exist: create it with mqttws passwd -c/)
    } finally {
      renameSync(`${file}.away`, file)
    }
    assert.equal(await connectCode(tb.urls.mqtt, {username: 'erin', password: 'erin-secret'}), 0)
    await alice.subscribeAsync('still/here')
    const got = nextMessages(alice, 1)
    const p = await connectMqttJs(tb.urls.ws, {username: 'erin', password: 'erin-secret'})
    await p.publishAsync('still/here', 'yes')
    assert.equal((await got)[0].payload.toString(), 'yes')
    assert.equal(closed, false)
    p.end(true)
    alice.end(true)
  })

  it('a storm of wrong passwords (default-cost hashes) is refused while a connected subscriber keeps getting messages', async () => {
    const sub = await connectMqttJs(tb.urls.ws, {username: 'alice', password: 'alice-secret'})
    const pub = await connectMqttJs(tb.urls.mqtt, {username: 'alice', password: 'alice-secret'})
    await sub.subscribeAsync('storm/tick')
    // Raw sockets, so the storm costs the test nothing but bytes.
    const attempts = 10
    let refused = 0
    let firstRefusal!: () => void
    const first = new Promise<void>((resolve) => (firstRefusal = resolve))
    const refusals: Array<Promise<number>> = []
    for (let i = 0; i < attempts; i++) {
      refusals.push(
        new Promise<number>((resolve) => {
          const s = net.connect(tb.ports.mqtt, '127.0.0.1', () => s.write(mqttPacket.generate({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: `storm-${i}`, username: 'dave', password: Buffer.from(`guess-${i}`)})))
          s.once('data', (d: Buffer) => {
            refused++
            firstRefusal()
            resolve(d[3])
            s.destroy()
          })
          s.on('error', () => resolve(-1))
        }),
      )
    }
    // Once the storm is being answered, messages keep flowing: with hashing on the event
    // loop, every pending guess would be answered before the next message moved.
    await first
    const refusedAtReceipt: number[] = []
    for (let i = 0; i < 20; i++) {
      const got = nextMessages(sub, 1)
      await pub.publishAsync('storm/tick', String(i))
      assert.equal((await got)[0].payload.toString(), String(i))
      refusedAtReceipt.push(refused)
    }
    const codes = await Promise.all(refusals)
    assert.deepEqual(new Set(codes), new Set([4]), 'every guess refused with return code 4')
    assert.ok(refusedAtReceipt[0] < attempts, `the first message arrived after all ${attempts} refusals`)
    assert.equal(sub.connected, true)
    sub.end(true)
    pub.end(true)
  })
})
