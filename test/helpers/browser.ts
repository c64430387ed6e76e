/** Debian's Chromium under playwright-core, for the dashboard's browser tests. */
import {mkdirSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Browser, Page} from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

export interface DashboardBrowser {
  browser: Browser
  page: Page
  /** Where the test's screenshots go: $DASHBOARD_SCREENSHOTS, or a new temporary folder (printed). */
  shots: string
}

/** Headless Chromium with one page at 1440×900, and a folder for screenshots. */
export async function openDashboardBrowser(): Promise<DashboardBrowser> {
  const {chromium} = await import('playwright-core')
  const browser = await chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']})
  const page = await browser.newPage({viewport: {width: 1440, height: 900}})
  const shots = process.env.DASHBOARD_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'mqttws-dashboard-'))
  mkdirSync(shots, {recursive: true})
  console.log(`      screenshots: ${shots}`)
  return {browser, page, shots}
}
