/**
 * The dashboard in headless Chromium (Debian's /usr/bin/chromium through playwright-core;
 * no browser download), against a real broker and admin API on 127.0.0.1: sign-in, the
 * overview's live counters, listener stop/start and add, kicking a client, deleting a
 * retained message, and the WebSocket client page exchanging messages with TCP clients
 * (mosquitto_pub and MQTT.js). A screenshot of each page goes to a temporary directory
 * (or $DASHBOARD_SCREENSHOTS). Needs `npm run build` (npm test builds first).
 */
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import type {MqttClient} from 'mqtt'
import type {Page} from 'playwright-core'
import {Broker} from '../../src/core/broker/broker.js'
import {resolveConfig} from '../../src/core/config.js'
import type {AdminServer} from '../../src/core/admin/server.js'
import {connectMqttJs, nextMessages} from '../helpers/mqttjs.js'
import {loadDashboardOrSkip, openDashboardBrowser} from '../helpers/browser.js'
import type {DashboardBrowser} from '../helpers/browser.js'
import {testCertificateFiles} from '../helpers/certs.js'

const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub'
const TOKEN = 'dashboard-test-token-42'

async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await f()
      if (v !== undefined && v !== false) return v
    } catch (error) {
      last = error
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('dashboard in headless Chromium', function () {
  this.timeout(120_000)
  let broker: Broker
  let opened: DashboardBrowser | undefined
  let admin: AdminServer
  let page: Page
  let shots: string
  const clients: MqttClient[] = []
  const urls: Record<string, string> = {}

  async function shot(name: string): Promise<void> {
    await page.screenshot({path: join(shots, `${name}.png`), fullPage: true})
  }

  async function go(name: string): Promise<void> {
    await page.click(`nav a[data-page="${name}"]`)
    await page.locator('.page-head h1').first().waitFor()
  }

  async function mqttClient(url: string, options: Parameters<typeof connectMqttJs>[1] = {}): Promise<MqttClient> {
    const c = await connectMqttJs(url, options)
    clients.push(c)
    return c
  }

  before(async function () {
    const dashboard = await loadDashboardOrSkip(this)
    broker = new Broker(resolveConfig({listeners: ['mqtt://127.0.0.1:0', 'ws://127.0.0.1:0/mqtt', {url: 'mqtt://127.0.0.1:0', id: 'spare'}], sysInterval: 0}))
    for (const info of await broker.listen()) urls[info.id] = info.url
    opened = await openDashboardBrowser(broker, TOKEN, dashboard)
    ;({page, shots, admin} = opened)
  })

  after(async () => {
    for (const c of clients.splice(0)) c.end(true)
    await opened?.close()
    await broker?.close()
  })

  it('signs in with the admin token (a wrong one is refused)', async () => {
    await page.goto(`${admin.url}/`)
    await page.locator('input[name="token"]').waitFor()
    await shot('0-sign-in')
    await page.fill('input[name="token"]', 'not-the-token')
    await page.click('button[type="submit"]')
    await page.locator('.alert.error').waitFor()
    assert.match((await page.locator('.alert.error').textContent())!, /token is wrong/)
    await page.fill('input[name="token"]', TOKEN)
    await page.click('button[type="submit"]')
    await page.locator('h1', {hasText: 'Overview'}).waitFor()
    // The session is an HttpOnly cookie: the page's script cannot read it.
    assert.equal(await page.evaluate(() => document.cookie), '')
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0)
  })

  it('overview: the received count rises while a TCP client publishes', async () => {
    const pub = await mqttClient(urls['mqtt:0'], {clientId: 'overview-publisher'})
    const sub = await mqttClient(urls['ws:0'], {clientId: 'overview-subscriber', protocolVersion: 5})
    await sub.subscribeAsync('plant/#', {qos: 1})
    const read = async (): Promise<number> => Number((await page.locator('[data-stat="received"] .stat-value').textContent())!.replaceAll(/[^\d.]/g, ''))
    const before = await read()
    let n = 0
    const timer = setInterval(() => void pub.publish(`plant/line-${n % 3}/temp`, JSON.stringify({celsius: 20 + (n++ % 7)}), {qos: 1}), 50)
    try {
      await until('the received count to rise', async () => (await read()) >= before + 20)
      await until('a few chart samples', async () => (await page.locator('.chart polyline').first().getAttribute('points'))!.split(' ').length >= 4)
    } finally {
      clearInterval(timer)
    }
    assert.ok((await read()) > before)
    await shot('1-overview')
  })

  it('listeners: stop (the confirmation names the clients) and start, and add a WS listener from the form', async () => {
    await mqttClient(urls.spare, {clientId: 'on-spare'})
    await go('listeners')
    const row = page.locator('tr[data-listener="spare"]')
    await until('spare shows its client', async () => (await row.locator('td').nth(2).textContent()) === '1')
    await row.getByRole('button', {name: 'Stop'}).click()
    assert.equal(await page.locator('[data-testid="confirm-count"]').textContent(), '1 client will be disconnected')
    await page.click('[data-testid="confirm"]')
    await until('spare stopped', async () => (await row.locator('[data-testid="state"]').textContent()) === 'stopped')
    assert.equal(broker.listenerStatus('spare').state, 'stopped')
    await row.getByRole('button', {name: 'Start'}).click()
    await until('spare running', async () => (await row.locator('[data-testid="state"]').textContent()) === 'running')

    // A WS listener with its WebSocket options from the form.
    const form = page.locator('[data-testid="add-form"]')
    await page.click('[data-testid="add-listener"]')
    await form.locator('select[name="scheme"]').selectOption('ws')
    await form.locator('input[name="port"]').fill('0')
    await form.locator('input[name="path"]').fill('/added')
    await form.locator('input[name="id"]').fill('ws-added')
    await form.locator('input[name="subprotocols"]').fill('mqtt')
    await form.locator('input[name="piggyback"]').check()
    await form.locator('input[name="allowNoSubprotocol"]').check()
    assert.equal(await form.locator('[data-testid="add-url"] code').textContent(), 'ws://127.0.0.1:0/added')
    await shot('2-listeners-form')
    await form.locator('button[type="submit"]').click()
    const added = page.locator('tr[data-listener="ws-added"]')
    await added.waitFor()
    await until('ws-added running', async () => (await added.locator('[data-testid="state"]').textContent()) === 'running')
    const status = broker.listenerStatus('ws-added')
    assert.equal(status.state, 'running')
    assert.equal(status.path, '/added')
    assert.deepEqual(status.ws?.subprotocols, ['mqtt'])
    assert.equal(status.ws?.piggyback, true)
    assert.equal(status.ws?.allowNoSubprotocol, true)
    // It works: an MQTT.js client connects over it.
    const c = await mqttClient(status.url, {clientId: 'via-added'})
    assert.ok(c.connected)

    // A WSS listener with certificate and key files chosen in the browser.
    const pem = await testCertificateFiles()
    await page.click('[data-testid="add-listener"]')
    await form.locator('select[name="scheme"]').selectOption('wss')
    await form.locator('input[name="port"]').fill('0')
    await form.locator('input[name="id"]').fill('wss-added')
    await form.locator('[data-testid="tls-options"] input[type="radio"]').nth(1).check()
    await form.locator('input[name="tls-cert"]').setInputFiles(pem.cert)
    await form.locator('input[name="tls-key"]').setInputFiles(pem.key)
    await form.locator('button[type="submit"]').click()
    const wss = page.locator('tr[data-listener="wss-added"]')
    await wss.waitFor()
    const wssStatus = broker.listenerStatus('wss-added')
    assert.equal(wssStatus.tls, true)
    const s = await mqttClient(wssStatus.url, {clientId: 'via-wss', rejectUnauthorized: false})
    assert.ok(s.connected)
    await shot('2-listeners')
  })

  it('clients: shows a client with its subscriptions, and kicks it', async () => {
    const victim = await mqttClient(urls['ws:0'], {clientId: 'victim-1', protocolVersion: 5, username: 'operator'})
    await victim.subscribeAsync({'alerts/#': {qos: 1}, 'cmd/victim-1': {qos: 2, nl: true}})
    for (let i = 0; i < 3; i++) await victim.publishAsync('alerts/x', `a${i}`, {qos: 1})
    const kicked = new Promise<number | undefined>((resolve) => victim.once('disconnect', (p) => resolve(p.reasonCode)))
    await go('clients')
    const row = page.locator('tr[data-client="victim-1"]')
    await row.waitFor()
    await row.click()
    const detail = page.locator('[data-testid="client-detail"]')
    await detail.locator('td', {hasText: 'cmd/victim-1'}).waitFor()
    assert.match((await detail.textContent())!, /operator/)
    // Its own traffic: 3 published, 3 delivered back (alerts/#).
    await until('its message counts', async () => (await detail.locator('[data-testid="client-messages"]').textContent()) === '3 / 3')
    await page.fill('[data-testid="client-search"]', 'victim')
    await until('the search to leave one row', async () => (await page.locator('[data-testid="clients"] tbody tr').count()) === 1)
    await shot('3-clients')
    await detail.locator('[data-testid="kick"]').click()
    await page.click('[data-testid="confirm"]')
    assert.equal(await kicked, 0x98)
    await until('victim-1 gone from the list', async () => (await page.locator('tr[data-client="victim-1"]').count()) === 0)
    await page.fill('[data-testid="client-search"]', '')
  })

  it('subscriptions: lists them', async () => {
    await go('subscriptions')
    await page.locator('td', {hasText: 'plant/#'}).first().waitFor()
    await shot('4-subscriptions')
  })

  it('retained: views a payload as JSON and deletes the message', async () => {
    const p = await mqttClient(urls['mqtt:0'], {clientId: 'retainer'})
    await p.publishAsync('config/line-1', JSON.stringify({setpoint: 21.5, mode: 'auto', sensors: ['t1', 't2']}), {retain: true, qos: 1})
    await p.publishAsync('status/line-1', 'online', {retain: true, qos: 1})
    await go('retained')
    const row = page.locator('tr[data-topic="config/line-1"]')
    await row.waitFor()
    // Who published it, and when.
    assert.match((await row.textContent())!, /retainer/)
    assert.match((await row.locator('td').nth(3).textContent())!, /\d{2}:\d{2}:\d{2}/)
    await row.click()
    const detail = page.locator('[data-testid="retained-detail"]')
    await until('the JSON payload', async () => ((await detail.locator('pre').textContent()) ?? '').includes('"setpoint": 21.5'))
    await shot('5-retained')
    await page.locator('tr[data-topic="status/line-1"]').getByRole('button', {name: 'Delete'}).click()
    await page.click('[data-testid="confirm"]')
    await until('status/line-1 gone', async () => (await page.locator('tr[data-topic="status/line-1"]').count()) === 0)
    assert.deepEqual((await broker.retainedMessages()).map((m) => m.topic), ['config/line-1'])
  })

  it('WebSocket client: connects over ws://, receives what mosquitto_pub sent over TCP, publishes to a TCP subscriber', async () => {
    const tcpSub = await mqttClient(urls['mqtt:0'], {clientId: 'tcp-listener'})
    await tcpSub.subscribeAsync('web/out')
    await go('websocket')
    const conn = page.locator('section.conn').first()
    await conn.waitFor()
    await conn.locator('input[name="url"]').fill(urls['ws:0'])
    await conn.locator('input[name="clientId"]').fill('browser-1')
    await conn.locator('[data-testid="connect"]').click()
    await until('connected', async () => (await conn.locator('[data-testid="conn-status"]').textContent()) === 'connected')
    assert.ok(broker.clients.has('browser-1'))
    await conn.locator('input[name="filter"]').fill('web/in')
    await conn.locator('select[name="subQos"]').selectOption('1')
    await conn.locator('[data-testid="subscribe"]').click()
    await conn.locator('[data-sub="web/in"]').waitFor()
    await until('the subscription on the broker', () => broker.subscribersOf('web/in') === 1)

    if (existsSync(MOSQUITTO_PUB)) {
      const port = new URL(urls['mqtt:0']).port
      await new Promise<void>((resolve, reject) =>
        execFile(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', port, '-t', 'web/in', '-q', '1', '-m', '{"from":"mosquitto_pub"}'], (error) => (error ? reject(error) : resolve())),
      )
    } else {
      console.log(`      (${MOSQUITTO_PUB} is missing: MQTT.js publishes over TCP instead)`)
      const p = await mqttClient(urls['mqtt:0'])
      await p.publishAsync('web/in', '{"from":"mosquitto_pub"}', {qos: 1})
    }
    const received = conn.locator('.msg[data-dir="in"][data-topic="web/in"]')
    await received.waitFor()
    assert.match((await received.locator('pre').textContent())!, /mosquitto_pub/)

    const got = nextMessages(tcpSub, 1, 10_000)
    await conn.locator('input[name="topic"]').fill('web/out')
    await conn.locator('textarea[name="payload"]').fill('hello from the browser')
    await conn.locator('[data-testid="publish"]').click()
    const [m] = await got
    assert.equal(m.payload.toString(), 'hello from the browser')
    await conn.locator('.msg[data-dir="out"]').waitFor()

    // A second connection side by side, MQTT 3.1.1.
    await page.click('[data-testid="new-connection"]')
    const second = page.locator('section.conn').nth(1)
    await second.locator('input[name="url"]').fill(urls['ws:0'])
    await second.locator('select[name="version"]').selectOption('4')
    await second.locator('input[name="clientId"]').fill('browser-2')
    await second.locator('[data-testid="connect"]').click()
    await until('the second connected', async () => (await second.locator('[data-testid="conn-status"]').textContent()) === 'connected')
    assert.equal(broker.clients.get('browser-2')?.version, 4)
    await shot('6-websocket-client')
  })
})
