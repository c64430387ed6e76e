/** The HTML report renders in a real browser: headless Chromium loads it and the charts are in its DOM. */
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {runBin} from '../helpers/spawn.js'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))
const run = promisify(execFile)

/** The flags this machine's closed network needs (no background connections, no sandbox as root). */
function chromiumArgs(dir: string): string[] {
  return ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`]
}

describe('e2e: bench --report in headless Chromium', function () {
  this.timeout(90000)

  it('renders the summary, both charts and the bytes table', async function () {
    if (!CHROMIUM) {
      console.log('      (skipped: no Chromium at /usr/bin/chromium; .ci/run installs it)')
      this.skip()
    }
    const dir = mkdtempSync(join(tmpdir(), 'mqttws-report-'))
    const html = join(dir, 'report.html')
    const r = await runBin(['bench', 'compare', '--transports', 'tcp,ws', '-n', '200', '-P', '2', '--report', html])
    assert.equal(r.code, 0, r.stderr)
    const {stdout: dom} = await run(CHROMIUM!, [...chromiumArgs(dir), '--dump-dom', `file://${html}`], {timeout: 60000, maxBuffer: 16 * 1024 * 1024})
    assert.match(dom, /<h1>mqttws bench — fan-in<\/h1>/)
    assert.match(dom, /<svg[^>]*aria-label="messages per second over time"/)
    assert.match(dom, /<svg[^>]*aria-label="latency percentiles"/)
    assert.equal((dom.match(/<polyline /g) ?? []).length, 2, 'one rate line per transport')
    assert.match(dom, /<td>ws<\/td><td>34<\/td><td>40<\/td>/)
    const png = join(dir, 'report.png')
    await run(CHROMIUM!, [...chromiumArgs(dir), `--screenshot=${png}`, '--window-size=900,1400', `file://${html}`], {timeout: 60000})
    assert.ok(statSync(png).size > 10_000, 'a screenshot with content')
  })
})
