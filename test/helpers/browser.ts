/** Debian's Chromium under playwright-core, for the dashboard's browser tests. */
import {existsSync, mkdirSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Browser, Page} from 'playwright-core'
import {loadDashboard} from '../../src/cli/dashboard-assets.js'
import {startAdmin} from '../../src/core/admin/server.js'
import type {AdminServer, DashboardAsset} from '../../src/core/admin/server.js'
import type {Broker} from '../../src/core/broker/broker.js'

export const CHROMIUM = '/usr/bin/chromium'

export interface DashboardBrowser {
  browser: Browser
  page: Page
  /** Where the test's screenshots go: $DASHBOARD_SCREENSHOTS, or a new temporary folder (printed). */
  shots: string
  /** The admin API serving the dashboard, on a free loopback port. */
  admin: AdminServer
  /** Closes the browser, then the admin API. */
  close(): Promise<void>
}

/**
 * The built dashboard's files; skips the calling suite (a mocha `before`) with a clear message
 * when Chromium is missing or the dashboard is not built.
 */
export async function loadDashboardOrSkip(ctx: Mocha.Context): Promise<ReadonlyMap<string, DashboardAsset>> {
  if (!existsSync(CHROMIUM)) {
    console.log(`      (skipped: ${CHROMIUM} is missing; apt-get install chromium)`)
    ctx.skip()
  }
  const dashboard = await loadDashboard()
  if (dashboard === undefined) {
    console.log('      (skipped: the dashboard is not built; run npm run build)')
    ctx.skip()
  }
  return dashboard!
}

/** The admin API of `broker` with the dashboard (token `token`), and headless Chromium with one page at 1440×900 and a folder for screenshots. */
export async function openDashboardBrowser(broker: Broker, token: string, dashboard: ReadonlyMap<string, DashboardAsset>): Promise<DashboardBrowser> {
  const admin = await startAdmin(broker, {host: '127.0.0.1', port: 0, token, dashboard})
  const {chromium} = await import('playwright-core')
  let browser: Browser
  try {
    browser = await chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']})
  } catch (error) {
    await admin.close()
    throw error
  }
  const page = await browser.newPage({viewport: {width: 1440, height: 900}})
  const shots = process.env.DASHBOARD_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'mqttws-dashboard-'))
  mkdirSync(shots, {recursive: true})
  console.log(`      screenshots: ${shots}`)
  return {
    browser,
    page,
    shots,
    admin,
    async close() {
      await browser.close()
      await admin.close()
    },
  }
}
