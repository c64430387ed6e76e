/**
 * Issue 18: `mqttws config check FILE` (problems with the file's line numbers, exit 2) and
 * `serve --print-config` (file < environment < flags, secrets redacted).
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'
import {runBin} from '../helpers/spawn.js'

describe('e2e: config check and serve --print-config', function () {
  this.timeout(60_000)
  let dir: string
  const file = (name: string, text: string): string => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mqttws-config-'))
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('a good file: "FILE: ok", exit 0', async () => {
    const f = file('good.yaml', 'listeners:\n  - mqtt://127.0.0.1:1883\nlimits:\n  maxQos: 1\n')
    const r = await runBin(['config', 'check', f])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, `${f}: ok\n`)
  })

  it('an unknown setting: its line and column, exit 2', async () => {
    const f = file('typo.yaml', 'listeners:\n  - mqtt://127.0.0.1:1883\nlimits:\n  maxQos: 1\n  maxPackeSize: 10\n')
    const r = await runBin(['config', 'check', f])
    assert.equal(r.code, 2)
    assert.match(r.stderr, new RegExp(`^Error: ${f.replaceAll('.', '\\.')}:5:3: unknown setting "limits\\.maxPackeSize"`))
  })

  it('a bad value in a list: the line of that item', async () => {
    const f = file('scheme.yaml', 'listeners:\n  - mqtt://127.0.0.1:1883\n  - ftp://127.0.0.1:21\n')
    const r = await runBin(['config', 'check', f])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /scheme\.yaml:3:5: setting "listeners\[1\]".*ftp/)
  })

  it('a YAML syntax error: where the parser stopped; --json: one error object', async () => {
    const f = file('broken.yaml', 'limits:\n  maxQos: [1\n')
    const r = await runBin(['config', 'check', f, '--json'])
    assert.equal(r.code, 2)
    const e = (JSON.parse(r.stdout) as {error: {code: string; message: string}}).error
    assert.equal(e.code, 'MQTTWS_ERR_CONFIG')
    assert.match(e.message, /broken\.yaml:\d+:\d+: not valid YAML/)
  })

  it('serve --print-config: file < environment < flags, as YAML, with the token redacted', async () => {
    const f = file('serve.yaml', 'limits:\n  maxQos: 1\n  maxInflight: 7\nadmin:\n  url: http://127.0.0.1:19999\n  token: file-secret-token\n')
    const r = await runBin(['serve', '--config', f, '--max-inflight', '9', '--print-config'], {env: {MQTTWS_LOG_LEVEL: 'warn', MQTTWS_ADMIN: ''}})
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stdout, /file-secret-token/)
    const printed = parse(r.stdout) as {limits: {maxQos: number; maxInflight: number}; admin: {port: number; token: string}; logLevel: string}
    assert.equal(printed.limits.maxQos, 1)
    assert.equal(printed.limits.maxInflight, 9)
    assert.equal(printed.admin.port, 19999)
    assert.equal(printed.admin.token, '<redacted>')
    assert.equal(printed.logLevel, 'warn')
  })
})
