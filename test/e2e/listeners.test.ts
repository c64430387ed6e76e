/** `mqttws listeners` against a real `mqttws serve` (the built binary), over its admin API. */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {BIN, runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'
import {connectMqttJs} from '../helpers/mqttjs.js'

describe('mqttws listeners (e2e)', function () {
  let serve: ServeProcess
  let dir: string
  let admin: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqttws-admin-'))
    env = {MQTTWS_ADMIN_TOKEN_FILE: join(dir, 'token'), MQTTWS_ADMIN_TOKEN: ''}
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--admin', 'http://127.0.0.1:0'], {env})
    const line = serve.stdoutLines.map((l) => JSON.parse(l)).find((e) => e.event === 'admin')
    assert.ok(line, `no admin line in ${serve.stdoutLines.join('\n')}`)
    admin = line.url
    assert.equal(line.tokenFile, join(dir, 'token'))
  })

  after(async () => {
    await serve?.stop()
    await rm(dir, {recursive: true, force: true})
  })

  const ls = (args: string[], extra: NodeJS.ProcessEnv = {}) => runBin(['listeners', ...args, '--admin', admin], {env: {...env, ...extra}})

  it('writes the token to a file only the user can read', async () => {
    const s = await stat(join(dir, 'token'))
    assert.equal(s.mode & 0o777, 0o600)
  })

  it('prints a table, and the API JSON with --json', async () => {
    const text = await ls([])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /id\s+url\s+state\s+conns\s+peak\s+msgs in\s+msgs out\s+bytes in\s+bytes out\s+rejects/)
    assert.match(text.stdout, /mqtt:0\s+mqtt:\/\/127\.0\.0\.1:\d+\s+running/)
    assert.match(text.stdout, /ws:0\s+ws:\/\/127\.0\.0\.1:\d+\/mqtt\s+running/)
    assert.match(text.stdout, /authentication: none \(loopback listeners only\)/)
    const json = await ls(['--json'])
    assert.equal(json.code, 0, json.stderr)
    const body = JSON.parse(json.stdout)
    assert.deepEqual(body.listeners.map((l: any) => l.id), ['mqtt:0', 'ws:0'])
    assert.equal(body.totals.running, 2)
    assert.deepEqual(body.auth, {allowAnonymous: false, authenticators: []})
  })

  it('adds, stops, starts, restarts and removes a listener; the added one takes clients', async () => {
    const add = await ls(['add', 'ws://127.0.0.1:0/added', '--id', 'added', '--json'])
    assert.equal(add.code, 0, add.stderr)
    const added = JSON.parse(add.stdout)
    assert.equal(added.state, 'running')
    const client = await connectMqttJs(added.url)
    client.end(true)
    const stop = await ls(['stop', 'added'])
    assert.equal(stop.code, 0, stop.stderr)
    assert.match(stop.stdout, /stopped listener added ws:\/\/127\.0\.0\.1:\d+\/added \(stopped\)/)
    assert.match((await ls([])).stdout, /added\s+\S+\s+stopped/)
    assert.match((await ls(['start', 'added'])).stdout, /started listener added/)
    assert.match((await ls(['restart', 'added'])).stdout, /restarted listener added/)
    assert.match((await ls(['remove', 'added'])).stdout, /removed listener added/)
    assert.doesNotMatch((await ls([])).stdout, /added/)
  })

  it('fails clearly: unknown id (exit 2), bad URL (exit 2), wrong token (exit 3), no broker (exit 1)', async () => {
    const unknown = await ls(['stop', 'nope'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /no listener "nope": the listeners are mqtt:0, ws:0/)
    const badUrl = await ls(['add', 'gopher://127.0.0.1:1'])
    assert.equal(badUrl.code, 2)
    assert.match(badUrl.stderr, /unknown scheme/)
    const wrong = await ls([], {MQTTWS_ADMIN_TOKEN: 'wrong-token-123'})
    assert.equal(wrong.code, 3)
    assert.match(wrong.stderr, /refused the request: the bearer token is wrong/)
    const none = await runBin(['listeners', '--admin', 'http://127.0.0.1:1'], {env})
    assert.equal(none.code, 1)
    assert.match(none.stderr, /no mqttws broker answers at http:\/\/127\.0\.0\.1:1: start one with `mqttws serve`/)
    const json = await runBin(['listeners', '--admin', 'http://127.0.0.1:1', '--json'], {env})
    assert.equal(json.code, 1)
  })

  it('--watch prints plain lines when stdout is not a terminal, and stops on SIGINT with 0', async () => {
    const child = spawn(process.execPath, [BIN, 'listeners', '--watch', '--admin', admin], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    try {
      const lines: string[] = []
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no watch lines: ${lines.join('\n')}`)), 10000)
        createInterface({input: child.stdout!}).on('line', (line) => {
          lines.push(line)
          if (lines.length === 4) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      assert.match(lines[0], /^\S+Z mqtt:0 running conns=0 msgs_in=0 msgs_out=0 bytes_in=\d+ bytes_out=\d+ rejects=0$/)
      assert.match(lines[3], /ws:0 running .* msgs_in_per_s=0 msgs_out_per_s=0/)
      const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
      child.kill('SIGINT')
      assert.equal(await code, 0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })
})
