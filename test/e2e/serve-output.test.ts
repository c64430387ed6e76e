/** What `mqttws serve` prints for a person: where things are, never the admin token itself, and "Press Ctrl-C" last. */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {BIN} from '../helpers/spawn.js'

describe('e2e: serve start-up text', function () {
  this.timeout(20_000)

  it('names the admin token file but does not print the token; the stop hint is the last line', async function () {
    const dir = mkdtempSync(path.join(tmpdir(), 'mqttws-out-'))
    const tokenFile = path.join(dir, 'admin.token')
    const token = 'never-print-this-token-0123'
    const child = spawn(process.execPath, [BIN, 'serve', '--listen', 'mqtt://127.0.0.1:0', '--admin', 'http://127.0.0.1:0', '--admin-token', token, '--admin-token-file', tokenFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let out = ''
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no stop hint; printed:\n${out}`)), 15_000)
        child.stdout.on('data', (d) => {
          out += d
          if (out.includes('Press Ctrl-C to stop.')) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      assert.ok(!out.includes(token), 'the token is not printed')
      assert.ok(out.includes(`admin token in ${tokenFile} (mode 0600)`))
      assert.equal(out.trimEnd().split('\n').at(-1), 'Press Ctrl-C to stop.')
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
