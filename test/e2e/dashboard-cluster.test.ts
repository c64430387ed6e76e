/**
 * The dashboard's Cluster page in headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core), against two cluster nodes in this process joined through a real
 * nats-server: both nodes up with their last heartbeat and NATS counters, then one node gone
 * (down). Screenshots go to a temporary directory (or $DASHBOARD_SCREENSHOTS). Needs `npm run build`.
 */
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import type {MqttClient} from 'mqtt'
import type {Browser, Page} from 'playwright-core'
import {startAdmin} from '../../src/core/admin/server.js'
import type {AdminServer} from '../../src/core/admin/server.js'
import {loadDashboard} from '../../src/cli/dashboard-assets.js'
import {connectMqttJs} from '../helpers/mqttjs.js'
import {CHROMIUM, openDashboardBrowser} from '../helpers/browser.js'
import {skipWithoutNats, startNats} from '../helpers/nats.js'
import type {RunningNats} from '../helpers/nats.js'
import {startNode} from '../core/cluster/helpers.js'
import type {ClusterNode} from '../core/cluster/helpers.js'

const TOKEN = 'dashboard-cluster-token-7'

describe('dashboard: the Cluster page in headless Chromium', function () {
  this.timeout(120_000)
  let nats: RunningNats
  let a: ClusterNode
  let b: ClusterNode
  let admin: AdminServer
  let browser: Browser
  let page: Page
  let shots: string
  const clients: MqttClient[] = []

  before(async function () {
    skipWithoutNats(this)
    if (!existsSync(CHROMIUM)) {
      console.log(`      (skipped: ${CHROMIUM} is missing; apt-get install chromium)`)
      return this.skip()
    }
    const dashboard = await loadDashboard()
    if (dashboard === undefined) {
      console.log('      (skipped: the dashboard is not built; run npm run build)')
      return this.skip()
    }
    nats = await startNats()
    a = await startNode(nats.url, 'node-a')
    b = await startNode(nats.url, 'node-b')
    admin = await startAdmin(a.broker, {host: '127.0.0.1', port: 0, token: TOKEN, dashboard})
    ;({browser, page, shots} = await openDashboardBrowser())
  })

  after(async () => {
    for (const c of clients.splice(0)) c.end(true)
    await browser?.close()
    await admin?.close()
    await Promise.all([a?.close(), b?.close()])
    await nats?.dispose()
  })

  const cell = (node: string, col: string): Promise<string> => page.locator(`tr[data-node="${node}"] td[data-col="${col}"]`).innerText()

  it('shows both nodes up, their last heartbeat and their NATS counters', async () => {
    await page.goto(`${admin.url}/`)
    await page.fill('input[name="token"]', TOKEN)
    await page.click('button[type="submit"]')
    await page.locator('h1', {hasText: 'Overview'}).waitFor()
    await page.click('nav a[data-page="cluster"]')
    await page.locator('h1', {hasText: 'Cluster'}).waitFor()
    await page.locator('tr[data-node="node-b"][data-state="up"]').waitFor()
    assert.equal(await page.locator('tr[data-node="node-a"]').getAttribute('data-state'), 'up')
    // Traffic from node B to a subscriber on node A.
    const sub = await connectMqttJs(a.urls.mqtt)
    clients.push(sub)
    await sub.subscribeAsync('dc/#', {qos: 1})
    const pub = await connectMqttJs(b.urls.ws)
    clients.push(pub)
    for (let i = 0; i < 25; i++) await pub.publishAsync(`dc/${i}`, 'x', {qos: 1})
    // Node A's own count, and node B's as its heartbeats tell.
    await page.waitForFunction(() => Number(document.querySelector('tr[data-node="node-a"] td[data-col="received"]')?.textContent) >= 25)
    await page.waitForFunction(() => Number(document.querySelector('tr[data-node="node-b"] td[data-col="published"]')?.textContent) >= 25)
    assert.match(await cell('node-b', 'heartbeat'), /ago/)
    assert.match(await page.locator('.page-head').innerText(), /node node-a/)
    assert.match(await page.locator('.page-head').innerText(), /connected to NATS/)
    assert.equal((await page.locator('[data-stat="nodes"] .stat-value').innerText()).replaceAll(/\s/g, ''), '2/2')
    assert.equal(await page.locator('[data-counter="sessionsSent"]').innerText(), '0')
    await page.screenshot({path: join(shots, 'cluster.png'), fullPage: true})
  })

  it('shows a node that stopped sending heartbeats as down', async () => {
    await b.close()
    await page.locator('tr[data-node="node-b"][data-state="down"]').waitFor({timeout: 15_000})
    assert.equal((await page.locator('[data-stat="nodes"] .stat-value').innerText()).replaceAll(/\s/g, ''), '1/2')
    await page.screenshot({path: join(shots, 'cluster-down.png'), fullPage: true})
  })
})
