/**
 * The dashboard's Cluster page in headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core), against two cluster nodes in this process joined through a real
 * nats-server: both nodes up with their last heartbeat and NATS counters, then one node gone
 * (down). Screenshots go to a temporary directory (or $DASHBOARD_SCREENSHOTS). Needs `npm run build`.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import type {Page} from 'playwright-core'
import type {AdminServer, DashboardAsset} from '../../src/core/admin/server.js'
import {loadDashboardOrSkip, openDashboardBrowser} from '../helpers/browser.js'
import type {DashboardBrowser} from '../helpers/browser.js'
import {useCluster} from '../helpers/cluster.js'
import type {ClusterNode} from '../helpers/cluster.js'

const TOKEN = 'dashboard-cluster-token-7'

describe('dashboard: the Cluster page in headless Chromium', function () {
  this.timeout(120_000)
  let dashboard: ReadonlyMap<string, DashboardAsset>
  let opened: DashboardBrowser | undefined
  let a: ClusterNode
  let b: ClusterNode
  let admin: AdminServer
  let page: Page
  let shots: string

  // Registered before the cluster's hooks: skipped before NATS starts; the browser closes before the nodes.
  before(async function () {
    dashboard = await loadDashboardOrSkip(this)
  })
  after(() => opened?.close())
  const cluster = useCluster(['node-a', 'node-b'])
  before(async () => {
    ;[a, b] = cluster.nodes
    opened = await openDashboardBrowser(a.broker, TOKEN, dashboard)
    ;({page, shots, admin} = opened)
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
    const sub = await cluster.client(a.urls.mqtt)
    await sub.subscribeAsync('dc/#', {qos: 1})
    const pub = await cluster.client(b.urls.ws)
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
