/**
 * The admin API's clients, subscriptions, retained messages and metrics routes, the
 * Prometheus exposition at /metrics, the dashboard's cookie sign-in with its cross-site
 * checks, and the $SYS tree: over real HTTP and MQTT.js on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {Socket} from 'node:net'
import {join} from 'node:path'
import type {MqttClient} from 'mqtt'
import {Broker} from '../../../src/core/broker/broker.js'
import {SysTree} from '../../../src/core/broker/sys-tree.js'
import {resolveConfig} from '../../../src/core/config.js'
import {startAdmin} from '../../../src/core/admin/server.js'
import {openConfiguredStores} from '../../../src/core/store/sqlite.js'
import type {AdminServer} from '../../../src/core/admin/server.js'
import {connectMqttJs, nextMessages} from '../../helpers/mqttjs.js'

const TOKEN = 'test-token-0123456789'

interface Reply {
  status: number
  body: any
  headers: Headers
}

/** Parses the Prometheus text format: `name{labels} value` lines, with # HELP / # TYPE checked. */
function parsePrometheus(text: string): {types: Map<string, string>; samples: Array<{name: string; labels: Record<string, string>; value: number}>} {
  const types = new Map<string, string>()
  const samples: Array<{name: string; labels: Record<string, string>; value: number}> = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const t = /^# TYPE (\w+) (counter|gauge)$/.exec(line)
    if (t) {
      types.set(t[1], t[2])
      continue
    }
    if (line.startsWith('# HELP ')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (-?[\d.e+]+)$/.exec(line)
    assert.ok(m, `not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    if (m[2]) for (const l of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    assert.ok(types.has(m[1]), `sample ${m[1]} has no # TYPE line before it`)
    samples.push({name: m[1], labels, value: Number(m[3])})
  }
  return {types, samples}
}

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = 8000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await f()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('admin API: clients, subscriptions, retained, metrics', function () {
  let broker: Broker
  let admin: AdminServer
  const clients: MqttClient[] = []
  let tcp: string
  let ws: string

  async function api(method: string, path: string, init: {body?: unknown; token?: string | null; headers?: Record<string, string>} = {}): Promise<Reply> {
    const token = init.token === undefined ? TOKEN : init.token
    const res = await fetch(`${admin.url}${path}`, {
      method,
      headers: {...(token === null ? {} : {Authorization: `Bearer ${token}`}), 'Content-Type': 'application/json', ...init.headers},
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    })
    const text = await res.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {}
    return {status: res.status, body, headers: res.headers}
  }

  async function client(url: string, options: Parameters<typeof connectMqttJs>[1] = {}): Promise<MqttClient> {
    const c = await connectMqttJs(url, options)
    clients.push(c)
    return c
  }

  beforeEach(async () => {
    broker = new Broker(resolveConfig({listeners: ['mqtt://127.0.0.1:0', 'ws://127.0.0.1:0/mqtt'], sysInterval: 0}))
    const infos = await broker.listen()
    tcp = infos[0].url
    ws = infos[1].url
    admin = await startAdmin(broker, {host: '127.0.0.1', port: 0, token: TOKEN, metrics: {token: 'scraper-token-123'}})
  })

  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true)
    await admin.close()
    await broker.close()
  })

  it('lists connected clients and offline sessions, shows one with its subscriptions, and lists subscriptions', async () => {
    const a = await client(ws, {clientId: 'dash-a', protocolVersion: 5, username: 'alice', keepalive: 42, properties: {sessionExpiryInterval: 300}})
    await a.subscribeAsync({'plant/+/temp': {qos: 1, nl: true, rap: true, rh: 1}})
    await a.subscribeAsync('$share/workers/jobs/#', {qos: 2})
    const b = await client(tcp, {clientId: 'dash-b', clean: false})
    await b.subscribeAsync('x/#', {qos: 1})
    await b.endAsync()
    const list = await until('dash-b offline', async () => {
      const r = await api('GET', '/api/v1/clients')
      return r.body.clients.find((c: any) => c.clientId === 'dash-b' && !c.connected) ? r : undefined
    })
    const ca = list.body.clients.find((c: any) => c.clientId === 'dash-a')
    assert.equal(ca.connected, true)
    assert.equal(ca.username, 'alice')
    assert.equal(ca.listener, 'ws:0')
    assert.equal(ca.transport, 'ws')
    assert.match(ca.address, /^127\.0\.0\.1:\d+$/)
    assert.equal(ca.protocolVersion, 5)
    assert.equal(ca.keepalive, 42)
    assert.equal(ca.cleanStart, true)
    assert.equal(ca.sessionExpiry, 300)
    assert.equal(ca.subscriptions, 2)
    assert.equal(typeof ca.connectedAt, 'string')
    const cb = list.body.clients.find((c: any) => c.clientId === 'dash-b')
    assert.equal(cb.connected, false)
    assert.equal(cb.protocolVersion, null)
    assert.equal(typeof cb.disconnectedAt, 'string')

    const one = await api('GET', '/api/v1/clients/dash-a')
    assert.equal(one.status, 200)
    const plant = one.body.subscriptionList.find((s: any) => s.filter === 'plant/+/temp')
    assert.deepEqual({qos: plant.qos, nl: plant.noLocal, rap: plant.retainAsPublished, rh: plant.retainHandling}, {qos: 1, nl: true, rap: true, rh: 1})
    const shared = one.body.subscriptionList.find((s: any) => s.group === 'workers')
    assert.equal(shared.topic, 'jobs/#')
    assert.equal((await api('GET', '/api/v1/clients/nobody')).status, 404)

    const subs = await api('GET', '/api/v1/subscriptions')
    assert.deepEqual(subs.body.subscriptions.map((s: any) => `${s.clientId} ${s.filter} ${s.qos}`), ['dash-a $share/workers/jobs/# 2', 'dash-a plant/+/temp 1', 'dash-b x/# 1'])
    const filtered = await api('GET', '/api/v1/subscriptions?clientId=dash-b')
    assert.equal(filtered.body.subscriptions.length, 1)
  })

  it('kicks an MQTT 5 client with DISCONNECT 0x98 and a 3.1.1 client by closing; an unknown id is 404', async () => {
    const v5 = await client(tcp, {clientId: 'kick-v5', protocolVersion: 5})
    const got = new Promise<number | undefined>((resolve) => v5.once('disconnect', (p) => resolve(p.reasonCode)))
    const r = await api('POST', '/api/v1/clients/kick-v5/kick')
    assert.equal(r.status, 200)
    assert.equal(r.body.kicked, true)
    assert.equal(await got, 0x98)
    const v4 = await client(ws, {clientId: 'kick-v4'})
    const closed = new Promise<void>((resolve) => v4.once('close', () => resolve()))
    assert.equal((await api('DELETE', '/api/v1/clients/kick-v4')).status, 200)
    await closed
    const again = await api('POST', '/api/v1/clients/kick-v4/kick')
    assert.equal(again.status, 404)
    assert.equal(again.body.error.code, 'not_found')
  })

  it('lists, shows, deletes and clears retained messages', async () => {
    const p = await client(tcp)
    await p.publishAsync('r/one', 'hello', {retain: true, qos: 1})
    await p.publishAsync('r/two', JSON.stringify({a: 1}), {retain: true, qos: 1})
    await p.publishAsync('r/bin', Buffer.from([0xff, 0x00, 0xfe]), {retain: true, qos: 0})
    const list = await until('3 retained', async () => {
      const r = await api('GET', '/api/v1/retained')
      return r.body.retained.length === 3 ? r : undefined
    })
    assert.deepEqual(list.body.retained.map((m: any) => [m.topic, m.size, m.qos]), [['r/bin', 3, 0], ['r/one', 5, 1], ['r/two', 7, 1]])
    const one = await api('GET', `/api/v1/retained/${encodeURIComponent('r/one')}`)
    assert.equal(one.body.text, 'hello')
    assert.equal(Buffer.from(one.body.payload, 'base64').toString(), 'hello')
    const bin = await api('GET', '/api/v1/retained/r/bin')
    assert.equal(bin.body.text, null)
    assert.deepEqual([...Buffer.from(bin.body.payload, 'base64')], [0xff, 0x00, 0xfe])
    assert.equal((await api('DELETE', '/api/v1/retained/r%2Fone')).status, 200)
    assert.equal((await api('GET', '/api/v1/retained/r%2Fone')).status, 404)
    assert.equal((await api('DELETE', '/api/v1/retained/r%2Fone')).status, 404)
    // A new subscriber no longer gets the deleted one.
    const s = await client(tcp)
    const msgs = nextMessages(s, 2)
    await s.subscribeAsync('r/#')
    assert.deepEqual((await msgs).map((m) => m.topic).sort(), ['r/bin', 'r/two'])
    const cleared = await api('DELETE', '/api/v1/retained')
    assert.equal(cleared.body.deleted, 2)
    assert.equal((await api('GET', '/api/v1/retained')).body.retained.length, 0)
  })

  it('serves JSON metrics and the Prometheus text format with values after a known exchange', async () => {
    const sub = await client(ws, {clientId: 'prom-sub'})
    await sub.subscribeAsync('m/#', {qos: 1})
    const pub = await client(tcp, {clientId: 'prom-pub'})
    const got = nextMessages(sub, 3)
    for (let i = 0; i < 3; i++) await pub.publishAsync('m/x', `v${i}`, {qos: 1})
    await got
    await pub.publishAsync('nobody/here', 'x', {retain: true})
    await until('the retained message', () => broker.retainedCount() === 1 || undefined)

    const json = await api('GET', '/api/v1/metrics')
    assert.equal(json.body.clients, 2)
    assert.equal(json.body.subscriptions.total, 1)
    assert.equal(json.body.retained, 1)
    assert.equal(json.body.messages.published, 4)

    const scrape = async (token: string | null): Promise<Reply> => api('GET', '/metrics', {token})
    assert.equal((await scrape(null)).status, 401)
    assert.equal((await scrape('wrong-token')).status, 401)
    const r = await scrape('scraper-token-123')
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/)
    assert.equal((await scrape(TOKEN)).status, 200)
    const {types, samples} = parsePrometheus(r.body as string)
    const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
    assert.equal(types.get('mqttws_messages_received_total'), 'counter')
    assert.equal(types.get('mqttws_connections'), 'gauge')
    assert.equal(value('mqttws_messages_received_total', {listener: 'mqtt:0', transport: 'tcp'}), 4)
    assert.equal(value('mqttws_messages_sent_total', {listener: 'ws:0', transport: 'ws'}), 3)
    assert.equal(value('mqttws_connections', {listener: 'mqtt:0'}), 1)
    assert.equal(value('mqttws_connections', {listener: 'ws:0'}), 1)
    assert.equal(value('mqttws_clients_connected'), 2)
    assert.equal(value('mqttws_sessions'), 2)
    assert.equal(value('mqttws_subscriptions'), 1)
    assert.equal(value('mqttws_retained_messages'), 1)
    assert.equal(value('mqttws_messages_no_subscribers_total'), 1)
    assert.equal(value('mqttws_messages_dropped_total', {reason: 'queue_full'}), 0)
    assert.equal(value('mqttws_rejected_total', {listener: 'ws:0', reason: 'path'}), 0)
    assert.equal(value('mqttws_auth_failures_total', {listener: 'mqtt:0'}), 0)
    assert.ok(value('mqttws_bytes_received_total', {listener: 'mqtt:0'})! > 0)
    assert.ok(value('mqttws_packets_sent_total', {listener: 'ws:0'})! >= 5)
    assert.ok(value('mqttws_ws_frames_received_total', {listener: 'ws:0', transport: 'ws'})! >= 2)
    assert.equal(value('mqttws_ws_frames_received_total', {listener: 'mqtt:0'}), undefined)
  })

  it('/metrics without a token when the admin API is started with metrics.public', async () => {
    const open = await startAdmin(broker, {host: '127.0.0.1', port: 0, token: TOKEN, metrics: {public: true}})
    try {
      const res = await fetch(`${open.url}/metrics`)
      assert.equal(res.status, 200)
      assert.match(await res.text(), /mqttws_sessions 0/)
      assert.equal((await fetch(`${open.url}/api/v1/clients`)).status, 401)
    } finally {
      await open.close()
    }
  })

  it('signs the dashboard in with an HttpOnly SameSite=Strict cookie and refuses cross-site requests', async () => {
    const origin = admin.url
    const wrong = await api('POST', '/api/v1/session', {token: null, body: {token: 'nope-nope'}, headers: {Origin: origin}})
    assert.equal(wrong.status, 401)
    const noOrigin = await api('POST', '/api/v1/session', {token: null, body: {token: TOKEN}})
    assert.equal(noOrigin.status, 403)
    const ok = await api('POST', '/api/v1/session', {token: null, body: {token: TOKEN}, headers: {Origin: origin}})
    assert.equal(ok.status, 200)
    const cookie = ok.headers.get('set-cookie')!
    assert.match(cookie, /^mqttws_admin=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/)
    assert.ok(!cookie.includes(TOKEN), 'the cookie does not carry the token')
    const jar = cookie.split(';')[0]
    assert.equal((await api('GET', '/api/v1/clients', {token: null, headers: {Cookie: jar}})).status, 200)
    // State-changing with the cookie: from this origin only.
    const p = await client(tcp)
    await p.publishAsync('c/1', 'x', {retain: true, qos: 1})
    const cross = await api('DELETE', '/api/v1/retained', {token: null, headers: {Cookie: jar, Origin: 'http://evil.example'}})
    assert.equal(cross.status, 403)
    assert.equal(cross.body.error.code, 'cross_site')
    assert.equal((await api('DELETE', '/api/v1/retained', {token: null, headers: {Cookie: jar}})).status, 403)
    assert.equal((await api('GET', '/api/v1/clients', {token: null, headers: {Cookie: jar, 'Sec-Fetch-Site': 'cross-site'}})).status, 403)
    assert.equal((await api('GET', '/api/v1/clients', {headers: {'Sec-Fetch-Site': 'same-site'}})).status, 403)
    const same = await api('DELETE', '/api/v1/retained', {token: null, headers: {Cookie: jar, Origin: origin, 'Sec-Fetch-Site': 'same-origin'}})
    assert.equal(same.status, 200)
    assert.equal(same.body.deleted, 1)
    const out = await api('DELETE', '/api/v1/session', {token: null, headers: {Cookie: jar, Origin: origin}})
    assert.match(out.headers.get('set-cookie')!, /Max-Age=0/)
  })
})

describe('$SYS topics', function () {
  let broker: Broker
  const clients: MqttClient[] = []

  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true)
    await broker.close()
  })

  it('publishes Mosquitto-named figures as retained messages every sysInterval seconds', async () => {
    broker = new Broker(resolveConfig({listeners: ['mqtt://127.0.0.1:0', 'ws://127.0.0.1:0/mqtt'], sysInterval: 1}), {version: '9.9.9'})
    const [t, w] = await broker.listen()
    const sys = await connectMqttJs(w.url, {clientId: 'sys-watch'})
    clients.push(sys)
    const latest = new Map<string, {value: string; retain: boolean}>()
    sys.on('message', (topic, payload, packet) => latest.set(topic, {value: payload.toString(), retain: packet.retain}))
    await sys.subscribeAsync('$SYS/#')
    // The retained values arrive at once, with the retain flag.
    const version = await until('$SYS/broker/version', () => latest.get('$SYS/broker/version'))
    assert.deepEqual(version, {value: 'mqttws version 9.9.9', retain: true})
    assert.ok(latest.has('$SYS/broker/retained messages/count'))
    // A known exchange on TCP: 5 QoS 0 PUBLISHes of 10-byte payloads, one retained.
    const pub = await connectMqttJs(t.url, {clientId: 'sys-pub'})
    clients.push(pub)
    for (let i = 0; i < 4; i++) await pub.publishAsync('sys/test', '0123456789')
    await pub.publishAsync('sys/test', '0123456789', {retain: true})
    const want = (topic: string, value: string): Promise<unknown> => until(`${topic} = ${value} (last ${latest.get(topic)?.value})`, () => latest.get(topic)?.value === value || undefined)
    await want('$SYS/broker/clients/connected', '2')
    await want('$SYS/broker/publish/messages/received', '5')
    await want('$SYS/broker/retained messages/count', '1')
    await want('$SYS/broker/subscriptions/count', '1')
    await want('$SYS/broker/listeners/mqtt:0/publish/messages/received', '5')
    await want('$SYS/broker/listeners/mqtt:0/clients/connected', '1')
    await want('$SYS/broker/listeners/ws:0/state', 'running')
    assert.ok(Number(latest.get('$SYS/broker/bytes/received')?.value) > 50)
    assert.ok(Number(latest.get('$SYS/broker/messages/received')?.value) >= 7)
    assert.match(latest.get('$SYS/broker/uptime')!.value, /^\d+ seconds$/)
    await until('a message load', () => Number(latest.get('$SYS/broker/load/publish/received/1min')?.value) > 0 || undefined)
    // $SYS messages are not counted as published to nobody, and not stored with the clients' retained messages.
    assert.equal(broker.metrics.noSubscribers, 5)
    assert.equal(broker.retainedCount(), 1)
  })

  it('reads each open socket\'s byte counts once per tick (totals and per-listener figures from one reading)', async () => {
    broker = new Broker(resolveConfig({listeners: ['mqtt://127.0.0.1:0'], sysInterval: 0}))
    const [t] = await broker.listen()
    clients.push(await connectMqttJs(t.url, {clientId: 'sys-bytes'}))
    const sockets = [...broker.listenerTable.get('mqtt:0')!.stats.sockets]
    assert.equal(sockets.length, 1)
    let reads = 0
    const bytesRead = Object.getOwnPropertyDescriptor(Socket.prototype, 'bytesRead')!.get!
    Object.defineProperty(sockets[0], 'bytesRead', {
      get(this: Socket) {
        reads++
        return bytesRead.call(this) as number
      },
    })
    const published = new Map<string, string>()
    new SysTree(broker, (topic, payload) => published.set(topic, payload), 0, 'test').tick()
    assert.equal(reads, 1)
    assert.ok(Number(published.get('$SYS/broker/bytes/received')) > 0)
    assert.equal(published.get('$SYS/broker/bytes/received'), published.get('$SYS/broker/listeners/mqtt:0/bytes/received'))
  })

  it('with a data directory, publishes the store\'s figures under $SYS/broker/store/', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqttws-sys-store-'))
    const config = resolveConfig({listeners: ['mqtt://127.0.0.1:0'], sysInterval: 1, persistence: {dir}})
    const stores = openConfiguredStores(config)
    broker = new Broker(config, {sessions: stores.sessions, retained: stores.retained})
    const [t] = await broker.listen()
    const c = await connectMqttJs(t.url, {clientId: 'sys-store', clean: false})
    clients.push(c)
    await c.subscribeAsync('keep/#', {qos: 1})
    const latest = new Map<string, string>()
    c.on('message', (topic, payload) => latest.set(topic, payload.toString()))
    await c.subscribeAsync('$SYS/broker/store/#')
    await until('$SYS/broker/store/sessions = 1', () => latest.get('$SYS/broker/store/sessions') === '1' || undefined)
    assert.ok(Number(latest.get('$SYS/broker/store/bytes')) > 0)
    assert.equal(latest.get('$SYS/broker/store/failedCommits'), '0')
  })

  it('publishes nothing with sysInterval 0', async () => {
    broker = new Broker(resolveConfig({listeners: ['mqtt://127.0.0.1:0'], sysInterval: 0}))
    await broker.listen()
    assert.deepEqual(await broker.retainedMessages('$SYS/#'), [])
  })
})
