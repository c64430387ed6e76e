/**
 * Bans (issue 13) over real sockets: client ids, user names, patterns, networks and expiry,
 * refused at CONNECT with 0x8A (MQTT 5) or return code 5 (3.1.1) by MQTT.js and Debian's
 * mosquitto clients, while bystanders (MQTT.js 3.1.1 and 5, mosquitto_sub) keep working.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import type mqtt from 'mqtt'
import type {MqttClient} from 'mqtt'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {connectMqttJs, delay, nextMessages, testClientOptions} from '../../helpers/mqttjs.js'

/** Connects and resolves with the CONNACK refusal code (MQTT.js's error code), or 0 when accepted. */
async function refusal(url: string, options: mqtt.IClientOptions): Promise<number> {
  try {
    const c = await connectMqttJs(url, options)
    c.end(true)
    return 0
  } catch (error) {
    return (error as {code?: number}).code ?? -1
  }
}

/** mosquitto_sub until it exits (bounded): its exit code and stderr. */
function mosquittoSubOnce(port: number, args: string[]): Promise<{code: number | null; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'x/#', '-C', '1', '-W', '5', ...args], {stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({code, stderr}))
  })
}

/** A long-running mosquitto_sub printing "topic payload" lines. */
function mosquittoSub(port: number, clientId: string, topic: string): {child: ChildProcess; lines: string[]; ready: Promise<void>} {
  const child = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-i', clientId, '-t', topic, '-v', '-V', 'mqttv311'], {stdio: ['ignore', 'pipe', 'pipe']})
  const lines: string[] = []
  child.stdout!.setEncoding('utf8')
  let buf = ''
  child.stdout!.on('data', (d: string) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) !== -1) {
      lines.push(buf.slice(0, i))
      buf = buf.slice(i + 1)
    }
  })
  return {child, lines, ready: Promise.resolve()}
}

async function waitFor(what: string, check: () => boolean, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return
    await delay(50)
  }
  assert.fail(`waited for ${what}`)
}

describe('guard: bans over real sockets', function () {
  let b: TestBroker
  const clients: MqttClient[] = []
  const children: ChildProcess[] = []

  before(async () => {
    b = await startBroker({
      bans: [
        {clientId: 'banned-id', reason: 'test'},
        {username: 'eve'},
        {clientId: 'bot-\\d+', regex: true},
        {address: '127.0.0.2'},
        {clientId: 'was-banned', until: '2000-01-01T00:00:00Z'},
      ],
    })
  })

  after(async () => {
    for (const c of clients.splice(0)) c.end(true)
    for (const c of children.splice(0)) c.kill('SIGTERM')
    await b.close()
  })

  it('refuses banned ids, names, patterns with 0x8A (MQTT 5) and 5 (3.1.1) while bystanders keep receiving', async () => {
    const v5 = await connectMqttJs(b.urls.mqtt, {clientId: 'bystander-5', protocolVersion: 5})
    const v4 = await connectMqttJs(b.urls.ws, {clientId: 'bystander-4', protocolVersion: 4})
    clients.push(v5, v4)
    await Promise.all([v5.subscribeAsync('news/#'), v4.subscribeAsync('news/#')])
    const mosq = mosquittoSub(b.ports.mqtt, 'bystander-mosq', 'news/#')
    children.push(mosq.child)
    await waitFor('mosquitto_sub to connect', () => b.broker.clients.has('bystander-mosq'))
    await v5.subscribeAsync('will/#')
    const topics5: string[] = []
    v5.on('message', (t) => topics5.push(t))

    const before = b.broker.listenerTable.get('mqtt:0')!.stats.rejected.banned
    for (const scheme of ['mqtt', 'ws'] as const) {
      assert.equal(await refusal(b.urls[scheme], {clientId: 'banned-id', protocolVersion: 5}), 0x8a)
      assert.equal(await refusal(b.urls[scheme], {clientId: 'banned-id', protocolVersion: 4}), 5)
      assert.equal(await refusal(b.urls[scheme], {clientId: 'someone', username: 'eve', password: 'x', protocolVersion: 5}), 0x8a)
      assert.equal(await refusal(b.urls[scheme], {clientId: 'bot-17', protocolVersion: 5}), 0x8a)
    }
    // The pattern covers whole ids only; an expired ban covers nobody.
    assert.equal(await refusal(b.urls.mqtt, {clientId: 'my-bot-17x', protocolVersion: 5}), 0)
    assert.equal(await refusal(b.urls.mqtt, {clientId: 'was-banned', protocolVersion: 4}), 0)
    assert.equal(b.broker.listenerTable.get('mqtt:0')!.stats.rejected.banned - before, 4)

    // Nothing of the banned client survives: no session, no Will.
    assert.equal(
      await refusal(b.urls.mqtt, {clientId: 'banned-id', protocolVersion: 5, clean: false, properties: {sessionExpiryInterval: 600}, will: {topic: 'will/banned', payload: Buffer.from('x'), qos: 1, retain: false}}),
      0x8a,
    )
    assert.equal(b.broker.sessionState('banned-id'), undefined)

    // Debian's mosquitto_sub is refused too ("not authorised": return code 5).
    const m = await mosquittoSubOnce(b.ports.mqtt, ['-i', 'banned-id', '-V', 'mqttv311'])
    assert.notEqual(m.code, 0)
    assert.match(m.stderr, /not authori[sz]ed/i)
    const m5 = await mosquittoSubOnce(b.ports.mqtt, ['-i', 'bot-3', '-V', 'mqttv5'])
    assert.notEqual(m5.code, 0)
    assert.match(m5.stderr, /banned/i)

    const got5 = nextMessages(v5, 1)
    const got4 = nextMessages(v4, 1)
    await v5.publishAsync('news/1', 'still here', {qos: 1})
    assert.equal((await got5)[0].payload.toString(), 'still here')
    assert.equal((await got4)[0].payload.toString(), 'still here')
    await waitFor('mosquitto_sub to receive', () => mosq.lines.includes('news/1 still here'))
    // No Will arrived at the subscriber of will/# (news/1 came after any it could have been).
    assert.deepEqual(topics5, ['news/1'])
  })

  it('refuses a banned address (127.0.0.2) but not the bystanders on 127.0.0.1', async () => {
    const m = await mosquittoSubOnce(b.ports.mqtt, ['-i', 'from-2', '-V', 'mqttv5', '-A', '127.0.0.2'])
    assert.notEqual(m.code, 0)
    assert.match(m.stderr, /banned/i)
    assert.equal(await refusal(b.urls.mqtt, {clientId: 'from-1', protocolVersion: 5}), 0)
  })

  it('a ban added at run time disconnects the connected clients it covers (MQTT 5: DISCONNECT 0x98 saying which ban), without their Wills', async () => {
    const watcher = await connectMqttJs(b.urls.mqtt, {clientId: 'watcher', protocolVersion: 5})
    clients.push(watcher)
    await watcher.subscribeAsync('will/#')
    const victim5 = await connectMqttJs(b.urls.mqtt, {clientId: 'victim-5', protocolVersion: 5, will: {topic: 'will/victim-5', payload: Buffer.from('gone'), qos: 0, retain: false}})
    const victim4 = await connectMqttJs(b.urls.wss, {clientId: 'victim-4', protocolVersion: 4, will: {topic: 'will/victim-4', payload: Buffer.from('gone'), qos: 0, retain: false}})
    clients.push(victim5, victim4)
    const reason5 = new Promise<[number | undefined, string | undefined]>((resolve) => victim5.once('disconnect', (p) => resolve([p.reasonCode, p.properties?.reasonString])))
    const closed4 = new Promise<void>((resolve) => victim4.once('close', () => resolve()))
    let wills = 0
    watcher.on('message', (t) => t.startsWith('will/') && wills++)
    const {disconnected} = b.broker.guard.add({kind: 'clientId', value: 'victim-\\d', regex: true, pattern: /^(?:victim-\d)$/u}, 'api')
    assert.equal(disconnected, 2)
    const [code, text] = await reason5
    assert.equal(code, 0x98)
    assert.match(text!, /client id pattern "victim-\\d" is banned/)
    await closed4
    // A message published after the disconnects arrives after any Will would have.
    const done = nextMessages(watcher, 1)
    await watcher.publishAsync('will/marker', 'm')
    await done
    assert.equal(wills, 1) // the marker only
    assert.equal(watcher.connected, true)
  })

  it('a ban with an expiry ends by itself', async () => {
    b.broker.guard.add({kind: 'clientId', value: 'brief', regex: false, until: Date.now() + 300}, 'api')
    assert.equal(await refusal(b.urls.mqtt, {clientId: 'brief', protocolVersion: 5}), 0x8a)
    let code = 0x8a
    for (let i = 0; i < 40 && code !== 0; i++) {
      await delay(100)
      code = await refusal(b.urls.mqtt, {clientId: 'brief', protocolVersion: 5})
    }
    assert.equal(code, 0)
    assert.equal(b.broker.guard.bans.get('clientId', 'brief'), undefined)
  })

  it('refuses banned clients on mqtts:// and wss:// too', async () => {
    assert.equal(await refusal(b.urls.mqtts, {...(await testClientOptions(b.urls.mqtts)), clientId: 'banned-id', protocolVersion: 5}), 0x8a)
    assert.equal(await refusal(b.urls.wss, {...(await testClientOptions(b.urls.wss)), clientId: 'banned-id', protocolVersion: 4}), 5)
  })
})
