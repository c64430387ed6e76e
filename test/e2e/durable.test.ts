/**
 * `serve --data-dir`: sessions, offline queues, inflight messages and retained messages
 * survive a restart and a kill -9, with MQTT.js (3.1.1 and 5) and Debian's mosquitto
 * clients as the peers; every acknowledged message is delivered after a crash (QoS 2
 * exactly once); a damaged database is refused with a message that says what to do.
 */
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import mqtt from 'mqtt'
import type {MqttClient} from 'mqtt'
import {openSqliteStores} from '../../src/core/store/sqlite.js'
import {Tracker, Wire, connectPacket, openJs, rawPublish, uid} from '../helpers/contract.js'
import {rawTcp} from '../helpers/raw.js'
import {hasMosquitto} from '../helpers/mosquitto.js'
import {closedPorts} from '../helpers/ports.js'
import {runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

const run = promisify(execFile)

/** integrity_check of the database, read through a second connection after the broker stopped. */
function integrity(dir: string): string {
  const stores = openSqliteStores({dir, exclusive: false})
  try {
    return stores.database.reader.pragma('integrity_check', {simple: true}) as string
  } finally {
    stores.database.close()
  }
}

function storedSessionIds(dir: string): string[] {
  const stores = openSqliteStores({dir, exclusive: false})
  try {
    return (stores.database.reader.prepare('SELECT client_id FROM sessions ORDER BY client_id').all() as Array<{client_id: string}>).map((r) => r.client_id)
  } finally {
    stores.database.close()
  }
}

describe('e2e: serve --data-dir (durable sessions)', function () {
  this.timeout(180_000)
  const t = new Tracker()
  let dir: string
  let broker: ServeProcess | undefined
  let ports: {mqtt: number; ws: number}

  const serve = async (extra: string[] = []): Promise<ServeProcess> => {
    broker = await startServe(['--data-dir', dir, '--listen', `mqtt://127.0.0.1:${ports.mqtt}`, '--listen', `ws://127.0.0.1:${ports.ws}/mqtt`, ...extra])
    return broker
  }

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mqttws-durable-'))
    const [mqtt, ws] = await closedPorts(2) // the broker must come back on the same ports
    ports = {mqtt, ws}
  })
  afterEach(async () => {
    t.closeAll()
    await broker?.stop('SIGKILL')
    broker = undefined
    rmSync(dir, {recursive: true, force: true})
  })

  it('keeps sessions, offline queues (1,000 messages, in order) and retained messages across kill -9; a clean session leaves nothing on disk', async function () {
    await serve()
    const mqttUrl = `mqtt://127.0.0.1:${ports.mqtt}`
    const wsUrl = `ws://127.0.0.1:${ports.ws}/mqtt`
    const v5 = {clientId: 'js5', protocolVersion: 5 as const, clean: false, properties: {sessionExpiryInterval: 3600}}
    const v4 = {clientId: 'js4', protocolVersion: 4 as const, clean: false}
    for (const [url, o, qos] of [[wsUrl, v5, 2], [mqttUrl, v4, 1]] as const) {
      const c = await openJs(t, url, o)
      await c.client.subscribeAsync('q/#', {qos})
      await c.client.endAsync()
    }
    const clean = await openJs(t, mqttUrl, {clientId: 'clean', clean: true})
    await clean.client.subscribeAsync('q/#', {qos: 1})
    await clean.client.endAsync()
    const mosquitto = hasMosquitto()
    if (mosquitto) await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(ports.mqtt), '-i', 'mosq', '-c', '-q', '1', '-t', 'q/#', '-E'])
    // 1,000 messages while every subscriber is away, and a retained one; mosquitto_pub publishes some of them.
    const pub = await openJs(t, mqttUrl, {clientId: uid('pub')})
    for (let i = 0; i < 1000; i++) await pub.client.publishAsync(`q/${i}`, `m${i}`, {qos: 1})
    if (mosquitto) await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(ports.mqtt), '-q', '1', '-r', '-t', 'r/state', '-m', 'kept'])
    else await pub.client.publishAsync('r/state', 'kept', {qos: 1, retain: true})
    await pub.client.endAsync()

    await broker!.stop('SIGKILL')
    await serve()

    const expected = Array.from({length: 1000}, (_, i) => `m${i}`)
    for (const [url, o] of [[wsUrl, v5], [mqttUrl, v4]] as const) {
      const back = await openJs(t, url, o)
      assert.equal(back.connack.sessionPresent, true, `${o.clientId}: session present`)
      const got = await back.inbox.take(1000, 20_000)
      assert.deepEqual(got.map((m) => m.payload.toString()), expected, `${o.clientId}: all 1,000, in order`)
    }
    // MQTT 5 without a session expiry: resume if there were a session, keep nothing after.
    const cleanBack = await openJs(t, mqttUrl, {clientId: 'clean', protocolVersion: 5, clean: false})
    assert.equal(cleanBack.connack.sessionPresent, false, 'a clean session is not kept')
    if (mosquitto) {
      const {stdout} = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(ports.mqtt), '-i', 'mosq', '-c', '-q', '1', '-t', 'q/#', '-C', '1000', '-W', '20'], {maxBuffer: 1 << 20})
      assert.deepEqual(stdout.trim().split('\n'), expected, 'mosquitto_sub: all 1,000, in order')
    }
    const fresh = await openJs(t, wsUrl, {clientId: uid('fresh')})
    await fresh.client.subscribeAsync('r/#')
    assert.deepEqual((await fresh.inbox.take(1)).map((m) => [m.topic, m.payload.toString(), m.packet.retain]), [['r/state', 'kept', true]])
    t.closeAll()
    await broker!.stop('SIGTERM')
    assert.equal(integrity(dir), 'ok')
    assert.ok(!storedSessionIds(dir).includes('clean'))
  })

  it('resends in-flight messages after kill -9: QoS 1 as PUBLISH with DUP, a released QoS 2 as PUBREL (MQTT 4.4.0-1); an inbound QoS 2 id awaiting PUBREL stays known', async function () {
    await serve()
    const wire = async (clean: boolean): Promise<Wire> => {
      const w = t.raw(new Wire(await rawTcp(ports.mqtt), 5))
      w.send(connectPacket(5, {clientId: 'inflight', clean, properties: {sessionExpiryInterval: 3600}}))
      await w.expect('connack')
      return w
    }
    const sub = await wire(true)
    sub.send({cmd: 'subscribe', messageId: 1, subscriptions: [{topic: 'i/#', qos: 2}]} as never)
    await sub.expect('suback')
    const pub = await openJs(t, `mqtt://127.0.0.1:${ports.mqtt}`, {clientId: uid('pub')})
    await pub.client.publishAsync('i/one', 'q1', {qos: 1})
    await pub.client.publishAsync('i/two', 'q2', {qos: 2})
    const one = await sub.expect('publish')
    const two = await sub.expect('publish')
    assert.deepEqual([one.qos, two.qos], [1, 2])
    // Acknowledge neither the QoS 1 message nor the release of the QoS 2 one: PUBREC only.
    sub.send({cmd: 'pubrec', messageId: two.messageId} as never)
    assert.equal((await sub.expect('pubrel')).messageId, two.messageId)
    // And as a publisher: a QoS 2 PUBLISH of its own, received (PUBREC) but not released.
    sub.send(rawPublish(5, {topic: 'elsewhere', payload: 'mine', qos: 2, id: 77}))
    assert.equal((await sub.expect('pubrec')).messageId, 77)

    await broker!.stop('SIGKILL')
    await serve()
    const back = await wire(false)
    const again = await back.expect('publish')
    assert.equal(again.messageId, one.messageId)
    assert.equal(again.dup, true, 'the QoS 1 message again, with DUP')
    assert.equal(again.payload.toString(), 'q1')
    assert.equal((await back.expect('pubrel')).messageId, two.messageId, 'the released QoS 2 message as PUBREL, not PUBLISH')
    back.send({cmd: 'pubrel', messageId: 77} as never)
    const comp = await back.expect('pubcomp')
    assert.equal(comp.messageId, 77)
    assert.equal(comp.reasonCode ?? 0, 0, 'the broker still knew packet id 77')
  })

  it('counts session expiry across the downtime: a session that expired while the broker was down is gone', async function () {
    await serve()
    const url = `mqtt://127.0.0.1:${ports.mqtt}`
    const o = {clientId: 'short', protocolVersion: 5 as const, clean: false, properties: {sessionExpiryInterval: 1}}
    const keep = {clientId: 'long', protocolVersion: 5 as const, clean: false, properties: {sessionExpiryInterval: 3600}}
    for (const opts of [o, keep]) {
      const c = await openJs(t, url, opts)
      await c.client.subscribeAsync('x/#', {qos: 1})
      await c.client.endAsync()
    }
    await broker!.stop('SIGKILL')
    await new Promise((r) => setTimeout(r, 1500))
    await serve()
    assert.equal((await openJs(t, url, o)).connack.sessionPresent, false, 'expired while the broker was down')
    assert.equal((await openJs(t, url, keep)).connack.sessionPresent, true)
  })

  it('kill -9 at 20 random points: every acknowledged QoS 1 and QoS 2 message arrives, QoS 2 exactly once, in order per publisher', async function () {
    await serve()
    const url = `mqtt://127.0.0.1:${ports.mqtt}`
    // Clients that reconnect by themselves across the restarts, resending what was not acknowledged.
    const open = (o: mqtt.IClientOptions): MqttClient => t.mqtt(mqtt.connect(url, {reconnectPeriod: 50, connectTimeout: 2000, resubscribe: false, ...o}))
    const sub = open({clientId: 'k-sub', protocolVersion: 5, clean: false, properties: {sessionExpiryInterval: 3600}})
    const received: Record<'1' | '2', number[]> = {1: [], 2: []}
    sub.on('message', (topic, payload) => received[topic.endsWith('/1') ? '1' : '2'].push(Number(payload.toString())))
    sub.on('error', () => {})
    await new Promise((r) => sub.once('connect', r))
    await sub.subscribeAsync('k/#', {qos: 2})
    const acked: Record<'1' | '2', number[]> = {1: [], 2: []}
    const pubs = (['1', '2'] as const).map((q) => {
      const c = open({clientId: `k-pub-${q}`, protocolVersion: q === '1' ? 4 : 5, clean: false, properties: q === '1' ? undefined : {sessionExpiryInterval: 3600}})
      c.on('error', () => {})
      return {q, c, next: 0, stop: false}
    })
    // Each publisher keeps up to 20 messages in flight (bounded), numbered in order.
    const pump = async (p: (typeof pubs)[number]): Promise<void> => {
      const inFlight = new Set<Promise<void>>()
      while (!p.stop) {
        if (inFlight.size >= 20 || !p.c.connected) {
          await Promise.race([...inFlight, new Promise((r) => setTimeout(r, 10))])
          continue
        }
        const n = p.next++
        const done = p.c.publishAsync(`k/${p.q}`, String(n), {qos: Number(p.q) as 1 | 2}).then(
          () => void acked[p.q].push(n),
          () => {},
        )
        const tracked = done.finally(() => inFlight.delete(tracked))
        inFlight.add(tracked)
      }
      await Promise.all(inFlight)
    }
    const pumps = pubs.map((p) => pump(p))
    for (let i = 0; i < 20; i++) {
      // Kill points spread over 100–400 ms of traffic, the same in every run.
      await new Promise((r) => setTimeout(r, 100 + ((i * 137) % 300)))
      await broker!.stop('SIGKILL')
      await serve()
    }
    await new Promise((r) => setTimeout(r, 500))
    for (const p of pubs) p.stop = true
    // Everything sent gets acknowledged in the end (the clients resend): stop waiting after 30 s.
    await Promise.race([Promise.all(pumps), new Promise((r) => setTimeout(r, 30_000))])
    const deadline = Date.now() + 30_000
    const all = (q: '1' | '2'): boolean => acked[q].every((n) => received[q].includes(n))
    while (Date.now() < deadline && !(all('1') && all('2'))) await new Promise((r) => setTimeout(r, 100))
    assert.ok(acked['1'].length > 50 && acked['2'].length > 50, `traffic flowed (${acked['1'].length} QoS 1, ${acked['2'].length} QoS 2 acknowledged)`)
    for (const q of ['1', '2'] as const) {
      const lost = acked[q].filter((n) => !received[q].includes(n))
      assert.deepEqual(lost, [], `QoS ${q}: acknowledged but never delivered`)
      // First deliveries in publishing order (QoS 1 may repeat a message after a crash).
      const firsts = received[q].filter((n, i, a) => a.indexOf(n) === i)
      assert.deepEqual(firsts, [...firsts].sort((a, b) => a - b), `QoS ${q}: in order per publisher`)
    }
    const dupes = received['2'].filter((n, i, a) => a.indexOf(n) !== i)
    assert.deepEqual(dupes, [], 'QoS 2: exactly once')
    t.closeAll()
    await broker!.stop('SIGTERM')
    assert.equal(integrity(dir), 'ok')
  })

  it('refuses a damaged database, one from a newer mqttws, and a second broker on the same directory, saying what to do', async function () {
    writeFileSync(path.join(dir, 'mqttws.db'), 'this is not a database, just some text that is long enough '.repeat(100))
    let r = await runBin(['serve', '--data-dir', dir, '--listen', 'mqtt://127.0.0.1:0', '--admin', 'off'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /is not a usable mqttws database .*move it aside/)
    rmSync(path.join(dir, 'mqttws.db'))

    const stores = openSqliteStores({dir})
    stores.database.reader.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run()
    stores.database.close()
    r = await runBin(['serve', '--data-dir', dir, '--listen', 'mqtt://127.0.0.1:0', '--admin', 'off'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /written by a newer mqttws \(schema version 99; this one reads up to 2\): upgrade mqttws/)
    rmSync(dir, {recursive: true, force: true})

    await serve()
    r = await runBin(['serve', '--data-dir', dir, '--listen', 'mqtt://127.0.0.1:0', '--admin', 'off'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /in use by another process.*another `mqttws serve`/)
  })
})
