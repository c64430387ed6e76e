/**
 * End-to-end authentication with the built binary: serve refuses a public listener without
 * authentication (exit 2), `mqttws passwd` writes files Mosquitto's tools and serve read,
 * SIGHUP and the admin API reload the password file without dropping clients.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {connectMqttJs, nextMessages} from '../helpers/mqttjs.js'
import {connectCode, hasMosquittoPasswd, mosquittoPasswd, tempDir} from '../helpers/auth.js'
import {BIN, runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

describe('e2e: authentication', function () {
  this.timeout(30000)
  let serve: ServeProcess | undefined

  afterEach(async () => {
    if (serve) await serve.stop('SIGKILL')
    serve = undefined
  })

  it('serve refuses to start a non-loopback listener without authentication (exit 2), naming --password-file and --allow-anonymous', async () => {
    for (const listen of ['mqtt://0.0.0.0:0', 'ws://[::]:0/mqtt']) {
      const r = await runBin(['serve', '--listen', 'mqtt://127.0.0.1:0', '--listen', listen, '--admin', 'off'])
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /not loopback, and no authentication is configured/)
      assert.match(r.stderr, /--password-file FILE/)
      assert.match(r.stderr, /--allow-anonymous/)
    }
    // The same from the config file's host setting.
    const dir = tempDir()
    const config = join(dir, 'mqttws.yaml')
    writeFileSync(config, 'host: 0.0.0.0\n')
    const r = await runBin(['serve', '--config', config, '--admin', 'off'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /binds 0\.0\.0\.0/)
  })

  it('serve refuses to start when the password file cannot be read (exit 2)', async () => {
    const r = await runBin(['serve', '--listen', 'mqtt://127.0.0.1:0', '--admin', 'off', '--password-file', '/nonexistent/passwd'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /password file \/nonexistent\/passwd does not exist: create it with mqttws passwd -c/)
  })

  it('mqttws passwd: -c makes a 0600 file, -b adds, stdin sets, -D deletes; mosquitto_passwd and serve share the file', async () => {
    const dir = tempDir()
    const file = join(dir, 'passwd')
    let r = await runBin(['passwd', '-c', '-b', file, 'alice', 'alice-pw'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.match(readFileSync(file, 'utf8'), /^alice:\$7\$210000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{88}\n$/)
    r = await runBin(['passwd', '-b', '--iterations', '1000', file, 'bob', 'bob-pw'])
    assert.equal(r.code, 0, r.stderr)
    // The password on standard input (no terminal).
    const child = spawn(process.execPath, [BIN, 'passwd', file, 'carol'], {stdio: ['pipe', 'ignore', 'pipe']})
    child.stdin.end('carol-pw\n')
    assert.equal(await new Promise((resolve) => child.on('close', resolve)), 0)
    if (hasMosquittoPasswd()) mosquittoPasswd('-b', file, 'dave', 'dave-pw')
    r = await runBin(['passwd', '-D', file, 'bob'])
    assert.equal(r.code, 0, r.stderr)
    r = await runBin(['passwd', '-D', file, 'bob'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /user "bob" is not in/)
    r = await runBin(['passwd', '-b', file, 'eve:x', 'pw'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /contains ":"/)

    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--password-file', file, '--acl-no-match', 'allow'])
    const url = serve.listeners[0].url
    assert.equal(await connectCode(url, {username: 'alice', password: 'alice-pw'}), 0)
    assert.equal(await connectCode(url, {username: 'carol', password: 'carol-pw'}), 0)
    if (hasMosquittoPasswd()) assert.equal(await connectCode(url, {username: 'dave', password: 'dave-pw'}), 0)
    assert.equal(await connectCode(url, {username: 'bob', password: 'bob-pw'}), 4)
  })

  it('SIGHUP and POST /api/v1/auth/reload re-read the password file; connected clients stay', async () => {
    const dir = tempDir()
    const file = join(dir, 'passwd')
    assert.equal((await runBin(['passwd', '-c', '-b', '--iterations', '1000', file, 'alice', 'alice-pw'])).code, 0)
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--password-file', file, '--acl-no-match', 'allow', '--admin', 'http://127.0.0.1:0', '--admin-token', 'tok-auth-test', '--admin-token-file', join(dir, 'token')])
    const [tcp, ws] = serve.listeners
    const alice = await connectMqttJs(ws.url, {username: 'alice', password: 'alice-pw'})
    try {
      await alice.subscribeAsync('reload/t')
      assert.equal(await connectCode(tcp.url, {username: 'bob', password: 'bob-pw'}), 4)
      assert.equal((await runBin(['passwd', '-b', '--iterations', '1000', file, 'bob', 'bob-pw'])).code, 0)
      serve.child.kill('SIGHUP')
      let code = 4
      for (let i = 0; i < 50 && code !== 0; i++) {
        code = await connectCode(tcp.url, {username: 'bob', password: 'bob-pw'})
        if (code !== 0) await new Promise((r) => setTimeout(r, 100))
      }
      assert.equal(code, 0, 'bob is let in after SIGHUP')

      // The admin API: what is configured, and a reload.
      const admin = serve.stdoutLines.map((l) => JSON.parse(l) as {event?: string; url?: string}).find((e) => e.event === 'admin')!
      const headers = {authorization: 'Bearer tok-auth-test'}
      const info = (await (await fetch(`${admin.url}/api/v1/auth`, {headers})).json()) as {allowAnonymous: boolean; authenticators: Array<{type: string; users: number}>}
      assert.equal(info.allowAnonymous, false)
      assert.equal(info.authenticators[0].type, 'password-file')
      assert.equal(info.authenticators[0].users, 2)
      const ls = await runBin(['listeners', '--admin', admin.url!, '--token', 'tok-auth-test'])
      assert.equal(ls.code, 0, ls.stderr)
      assert.match(ls.stdout, /authentication: password-file \(2 users\)/)
      assert.equal((await runBin(['passwd', '-D', file, 'bob'])).code, 0)
      const res = await fetch(`${admin.url}/api/v1/auth/reload`, {method: 'POST', headers})
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), {reloaded: [{id: 'password-file', ok: true}, {id: 'authorization', ok: true}]})
      assert.equal(await connectCode(tcp.url, {username: 'bob', password: 'bob-pw'}), 4)

      const got = nextMessages(alice, 1)
      const p = await connectMqttJs(tcp.url, {username: 'alice', password: 'alice-pw'})
      await p.publishAsync('reload/t', 'still connected')
      assert.equal((await got)[0].payload.toString(), 'still connected')
      p.end(true)
    } finally {
      alice.end(true)
    }
  })

  it('bench --url logs its clients in with --username/--password (also from MQTTWS_PASSWORD); a wrong password exits 3', async function () {
    this.timeout(60000)
    const dir = tempDir()
    const file = join(dir, 'passwd')
    assert.equal((await runBin(['passwd', '-c', '-b', '--iterations', '1000', file, 'bench', 'bench-pw'])).code, 0)
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--password-file', file, '--acl-no-match', 'allow'])
    const [tcp, ws] = serve.listeners
    const args = ['bench', 'fan-in', '--url', tcp.url, '--url', ws.url, '-T', 'tcp,ws', '-P', '2', '-w', '2', '-n', '50', '-q', '1', '--json']
    const ok = await runBin([...args, '-u', 'bench'], {timeoutMs: 45000, env: {MQTTWS_PASSWORD: 'bench-pw'}})
    assert.equal(ok.code, 0, ok.stderr)
    for (const t of JSON.parse(ok.stdout).results as Array<{received: number}>) assert.equal(t.received, 100)
    assert.doesNotMatch(ok.stdout, /bench-pw/, 'the password is not in the report')
    const conn = await runBin(['bench', 'conn', '--url', tcp.url, '-c', '5', '-u', 'bench', '--password', 'bench-pw', '--json'], {timeoutMs: 30000})
    assert.equal(conn.code, 0, conn.stderr)
    const bad = await runBin([...args, '-u', 'bench', '--password', 'wrong'], {timeoutMs: 30000})
    assert.equal(bad.code, 3, bad.stderr)
    assert.match(bad.stdout + bad.stderr, /bad user name or password/i)
  })
})
