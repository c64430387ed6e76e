/**
 * End to end with the built binary: `mqttws passwd --scram` writes SCRAM entries that serve
 * reads beside Mosquitto lines; `pub`/`sub` log in with --auth-method SCRAM-SHA-256/512 and
 * take the password from a file or a named variable (not the shell history), with clear
 * errors for a missing file or variable; `mqttws listeners` shows the authentication
 * failures per listener by reason and the SCRAM users; `bench conn --auth-method` reports
 * the authentication time (CONNECT → CONNACK) per connection.
 */
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempDir} from '../helpers/auth.js'
import {runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

describe('e2e: SCRAM and client credentials', function () {
  this.timeout(60000)
  let serve: ServeProcess | undefined
  let dir: string
  let file: string
  let tcp: string
  let ws: string
  let admin: string

  before(async () => {
    dir = tempDir()
    file = join(dir, 'passwd')
    assert.equal((await runBin(['passwd', '-c', '-b', '--scram', 'sha256', '--iterations', '4096', file, 'sam', 'sam-pw'])).code, 0)
    assert.equal((await runBin(['passwd', '-b', '--scram', 'sha512', '--iterations', '4096', file, 'sue', 'sue-pw'])).code, 0)
    assert.equal((await runBin(['passwd', '-b', '--iterations', '1000', file, 'moe', 'moe-pw'])).code, 0)
    const r = await runBin(['passwd', '-b', '--scram', 'sha256', '--iterations', '1000', file, 'x', 'y'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /too few for SCRAM: RFC 7677 asks for at least 4096/)
    const text = readFileSync(file, 'utf8')
    assert.match(text, /^sam:\$scram-sha-256\$4096\$[^$]+\$[^$]+\$[^$]+\nsue:\$scram-sha-512\$4096\$[^$]+\$[^$]+\$[^$]+\nmoe:\$7\$1000\$/)
    assert.doesNotMatch(text, /sam-pw|sue-pw/)
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--password-file', file, '--admin', 'http://127.0.0.1:0', '--admin-token', 'tok-scram', '--admin-token-file', join(dir, 'token')])
    ;[tcp, ws] = serve.listeners.map((l) => l.url)
    admin = serve.stdoutLines.map((l) => JSON.parse(l) as {event?: string; url?: string}).find((e) => e.event === 'admin')!.url!
  })

  after(async () => {
    if (serve) await serve.stop('SIGKILL')
  })

  it('pub logs in with --auth-method SCRAM-SHA-256 and SCRAM-SHA-512 over mqtt and ws; a wrong password exits 3 with 0x86', async () => {
    for (const url of [tcp, ws]) {
      for (const [method, user, pw] of [['SCRAM-SHA-256', 'sam', 'sam-pw'], ['SCRAM-SHA-512', 'sue', 'sue-pw']]) {
        const r = await runBin(['pub', '-L', url, '-t', 't', '-m', 'x', '--auth-method', method, '-u', user, '-P', pw])
        assert.equal(r.code, 0, `${url} ${method}: ${r.stderr}`)
      }
    }
    const bad = await runBin(['pub', '-L', tcp, '-t', 't', '-m', 'x', '--auth-method', 'SCRAM-SHA-256', '-u', 'sam', '-P', 'wrong'])
    assert.equal(bad.code, 3, bad.stderr)
    assert.match(bad.stderr, /Bad user name or password|bad user name or password/i)
    const v3 = await runBin(['pub', '-L', tcp, '-t', 't', '-m', 'x', '-V', '3.1.1', '--auth-method', 'SCRAM-SHA-256', '-u', 'sam', '-P', 'sam-pw'])
    assert.equal(v3.code, 2)
    assert.match(v3.stderr, /use -V 5/)
  })

  it('the password from --password-from-file or --password-env (not on the command line); missing ones are named', async () => {
    const pwFile = join(dir, 'sam.pw')
    writeFileSync(pwFile, 'sam-pw\n', {mode: 0o600})
    let r = await runBin(['pub', '-L', tcp, '-t', 't', '-m', 'x', '--auth-method', 'SCRAM-SHA-256', '-u', 'sam', '--password-from-file', pwFile])
    assert.equal(r.code, 0, r.stderr)
    r = await runBin(['pub', '-L', ws, '-t', 't', '-m', 'x', '-u', 'moe', '--password-env', 'MOE_PW'], {env: {MOE_PW: 'moe-pw'}})
    assert.equal(r.code, 0, r.stderr)
    // The plain path checks a SCRAM entry too.
    r = await runBin(['pub', '-L', tcp, '-t', 't', '-m', 'x', '-u', 'sue'], {env: {MQTTWS_PASSWORD: 'sue-pw'}})
    assert.equal(r.code, 0, r.stderr)
    r = await runBin(['pub', '-L', tcp, '-t', 't', '-m', 'x', '-u', 'sam', '--password-from-file', join(dir, 'nope.pw')])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--password-from-file .*nope\.pw: no such file; give a file whose first line is the password/)
    r = await runBin(['pub', '-L', tcp, '-t', 't', '-m', 'x', '-u', 'sam', '--password-env', 'NOT_SET_ANYWHERE'], {env: {NOT_SET_ANYWHERE: ''}})
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--password-env NOT_SET_ANYWHERE: the variable NOT_SET_ANYWHERE is empty; set it first/)
    r = await runBin(['sub', '-L', tcp, '-t', 't', '-C', '1', '-W', '1', '-u', 'sam', '--password-env', 'sam-pw'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /"sam-pw" is not a variable name: give the name/)
  })

  it('mqttws listeners shows the authentication failures per listener by reason, and the SCRAM users', async () => {
    for (let i = 0; i < 2; i++) await runBin(['pub', '-L', tcp, '-t', 't', '-m', 'x', '-u', 'moe', '-P', 'wrong'])
    await runBin(['pub', '-L', ws, '-t', 't', '-m', 'x', '-V', '5', '-u', 'nobody', '-P', 'x'])
    const ls = await runBin(['listeners', '--admin', admin, '--token', 'tok-scram'])
    assert.equal(ls.code, 0, ls.stderr)
    assert.match(ls.stdout, /authentication: password-file \(3 users, 2 with SCRAM\)/)
    assert.match(ls.stdout, /auth failures on mqtt:\d+: \d+ bad-credentials/)
    assert.match(ls.stdout, /auth failures on ws:\d+: 1 bad-credentials/)
  })

  it('bench conn --auth-method SCRAM-SHA-256 reports the authentication time per connection (p50/p99)', async () => {
    const r = await runBin(['bench', 'conn', '--url', tcp, '-c', '20', '-V', '5', '--auth-method', 'SCRAM-SHA-256', '-u', 'sam', '--password-env', 'SAM_PW', '--json'], {env: {SAM_PW: 'sam-pw'}, timeoutMs: 45000})
    assert.equal(r.code, 0, r.stderr)
    const result = JSON.parse(r.stdout) as {results: Array<{connects: number; authLatency: {count: number; p50Ms: number; p99Ms: number}}>}
    assert.equal(result.results[0].connects, 20)
    assert.equal(result.results[0].authLatency.count, 20)
    assert.ok(result.results[0].authLatency.p99Ms >= result.results[0].authLatency.p50Ms)
    const table = await runBin(['bench', 'conn', '--url', tcp, '-c', '5', '-u', 'moe', '--password', 'moe-pw'], {timeoutMs: 45000})
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /auth p50 ms/)
    const wrong = await runBin(['bench', 'fan-in', '--url', tcp, '--auth-method', 'SCRAM-SHA-256', '-u', 'sam', '--password', 'x'])
    assert.equal(wrong.code, 2)
    assert.match(wrong.stderr, /works with the conn scenario/)
  })
})
