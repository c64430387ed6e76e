/**
 * Flapping detection (issue 13) over real sockets: a client id (or an address) that connects
 * too often is banned for a while, counted before authentication so password guessing is
 * throttled; the bystanders keep working.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import type {MqttClient} from 'mqtt'
import type {Auth} from '../../../src/core/broker/auth.js'
import {allowAll} from '../../../src/core/broker/auth.js'
import {ReasonCode} from '../../../src/core/protocol/reason-codes.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {connectMqttJs, nextMessages} from '../../helpers/mqttjs.js'

async function refusal(url: string, options: Parameters<typeof connectMqttJs>[1]): Promise<number> {
  try {
    const c = await connectMqttJs(url, options)
    await new Promise<void>((resolve) => c.end(true, {}, () => resolve()))
    return 0
  } catch (error) {
    return (error as {code?: number}).code ?? -1
  }
}

function mosquittoPubFrom(port: number, bind: string, clientId: string): Promise<{code: number | null; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-A', bind, '-i', clientId, '-V', 'mqttv5', '-t', 'x', '-m', 'y'], {stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({code, stderr}))
  })
}

/** Only the password "right" gets in. */
const passwordAuth: Auth = {
  ...allowAll,
  authenticate: (c) => Promise.resolve(c.password?.toString() === 'right' ? {ok: true} : {ok: false, reasonCode: ReasonCode.BadUserNameOrPassword, reason: 'wrong password'}),
}

describe('guard: flapping detection over real sockets', function () {
  let b: TestBroker
  let bystander: MqttClient

  afterEach(async () => {
    bystander?.end(true)
    await b?.close()
  })

  it('bans a client id past maxConnects in the window (0x8A, 3.1.1: 5) while a bystander keeps working', async () => {
    b = await startBroker({guard: {flapping: {enabled: true, maxConnects: 3, windowSeconds: 60, banSeconds: 60}}})
    bystander = await connectMqttJs(b.urls.mqtt, {clientId: 'bystander', protocolVersion: 5})
    await bystander.subscribeAsync('t')
    for (let i = 0; i < 3; i++) assert.equal(await refusal(b.urls.mqtt, {clientId: 'flappy', protocolVersion: 5}), 0, `connect ${i + 1}`)
    assert.equal(await refusal(b.urls.mqtt, {clientId: 'flappy', protocolVersion: 5}), 0x8a)
    assert.equal(await refusal(b.urls.ws, {clientId: 'flappy', protocolVersion: 4}), 5)
    const stats = b.broker.listenerTable.get('mqtt:0')!.stats
    assert.equal(stats.rejected.flapping, 1)
    assert.equal(b.broker.listenerTable.get('ws:0')!.stats.rejected.banned, 1)
    const ban = b.broker.guard.bans.get('clientId', 'flappy')
    assert.equal(ban?.source, 'flapping')
    assert.ok(ban.until! > Date.now() + 50_000)
    // Other ids are not affected, nor is the connected bystander.
    assert.equal(await refusal(b.urls.mqtt, {clientId: 'steady', protocolVersion: 5}), 0)
    const got = nextMessages(bystander, 1)
    await bystander.publishAsync('t', 'ok')
    assert.equal((await got)[0].payload.toString(), 'ok')
  })

  it('is on by default with authentication, counted before it: password guessing is cut off even with the right password', async () => {
    b = await startBroker({}, {auth: passwordAuth})
    bystander = await connectMqttJs(b.urls.mqtt, {clientId: 'bystander', protocolVersion: 5, username: 'u', password: 'right'})
    for (let i = 0; i < 15; i++) assert.equal(await refusal(b.urls.mqtt, {clientId: 'guesser', protocolVersion: 5, username: 'u', password: `guess-${i}`}), 0x86)
    assert.equal(await refusal(b.urls.mqtt, {clientId: 'guesser', protocolVersion: 5, username: 'u', password: 'right'}), 0x8a)
    assert.equal(bystander.connected, true)
    assert.equal(b.broker.listenerTable.get('mqtt:0')!.stats.rejected.auth, 15)
  })

  it('is off by default without authentication (a dev box reconnecting in a loop is left alone)', async () => {
    b = await startBroker({})
    for (let i = 0; i < 20; i++) assert.equal(await refusal(b.urls.mqtt, {clientId: 'loop', protocolVersion: 4}), 0)
    assert.equal(b.broker.guard.flapping, undefined)
  })

  it('bans an address past maxConnectsPerAddress, other addresses unaffected', async () => {
    b = await startBroker({guard: {flapping: {enabled: true, maxConnects: 100, maxConnectsPerAddress: 2, windowSeconds: 60, banSeconds: 60}}})
    for (let i = 0; i < 2; i++) assert.equal((await mosquittoPubFrom(b.ports.mqtt, '127.0.0.3', `a${i}`)).code, 0)
    const third = await mosquittoPubFrom(b.ports.mqtt, '127.0.0.3', 'a3')
    assert.notEqual(third.code, 0)
    assert.match(third.stderr, /banned/i)
    assert.equal(b.broker.guard.bans.get('address', '127.0.0.3')?.source, 'flapping')
    assert.equal(await refusal(b.urls.mqtt, {clientId: 'from-localhost', protocolVersion: 5}), 0)
  })
})
