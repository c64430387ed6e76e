/**
 * Issue 18: `mqttws init` writes a commented config that `serve --config` loads: --yes with
 * flags (a first user in a new password file), the questions on a real terminal (tmux), and
 * no overwrite without --force.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {BIN, runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'
import {connectCode} from '../helpers/auth.js'
import {connectMqttJs, nextMessages} from '../helpers/mqttjs.js'
import {TmuxSession, hasTmux} from '../helpers/tmux.js'

describe('e2e: mqttws init', function () {
  this.timeout(120_000)
  let dir: string
  let serve: ServeProcess | undefined

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mqttws-init-'))
  })
  afterEach(async () => {
    await serve?.stop()
    serve = undefined
    rmSync(dir, {recursive: true, force: true})
  })

  it('init --yes with a user, then serve --config it: the user gets in, a client without credentials does not', async () => {
    const file = join(dir, 'conf', 'broker.yaml')
    const r = await runBin(['init', file, '--yes', '--tcp-port', '0', '--ws-port', '0', '--admin', 'off', '--user', 'alice', '--password', 'init-secret-1', '--data-dir', join(dir, 'data')])
    assert.equal(r.code, 0, r.stderr)
    const text = readFileSync(file, 'utf8')
    assert.match(text, /^# mqttws serve configuration, written by `mqttws init`/)
    assert.match(text, /type: password-file\n\s+file: \.\/passwd/)
    assert.match(text, /dir: \.\.\/data/)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.match(readFileSync(join(dir, 'conf', 'passwd'), 'utf8'), /^alice:\$7\$/)
    const check = await runBin(['config', 'check', file])
    assert.equal(check.code, 0, check.stderr)
    serve = await startServe(['--config', file])
    const tcp = serve.listeners.find((l) => l.scheme === 'mqtt')!
    assert.ok(serve.listeners.some((l) => l.scheme === 'ws' && l.url.endsWith('/mqtt')))
    assert.equal(await connectCode(`mqtt://127.0.0.1:${tcp.port}`, {username: 'alice', password: 'init-secret-1', protocolVersion: 5}), 0)
    // The config's ACL lets the user publish and subscribe (with users and no rule, nothing would be allowed).
    const alice = await connectMqttJs(`mqtt://127.0.0.1:${tcp.port}`, {username: 'alice', password: 'init-secret-1', protocolVersion: 5})
    try {
      await alice.subscribeAsync('init/t', {qos: 1})
      const got = nextMessages(alice, 1)
      await alice.publishAsync('init/t', 'hello', {qos: 1})
      assert.equal((await got)[0].payload.toString(), 'hello')
    } finally {
      alice.end(true)
    }
    assert.notEqual(await connectCode(`mqtt://127.0.0.1:${tcp.port}`, {protocolVersion: 5}), 0)
  })

  it('refuses to replace a file without --force; --force replaces it', async () => {
    const file = join(dir, 'mqttws.yaml')
    assert.equal((await runBin(['init', file, '--yes'])).code, 0)
    const again = await runBin(['init', file, '--yes', '--tcp-port', '1999'])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /exists: give another file name, or --force to replace it/)
    assert.doesNotMatch(readFileSync(file, 'utf8'), /1999/)
    assert.equal((await runBin(['init', file, '--yes', '--force', '--tcp-port', '1999'])).code, 0)
    assert.match(readFileSync(file, 'utf8'), /mqtt:\/\/127\.0\.0\.1:1999/)
  })

  it('without a terminal and without --yes: a usage error naming --yes; a public address needs a user', async () => {
    const r = await runBin(['init', join(dir, 'x.yaml')])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /give --yes/)
    const open = await runBin(['init', join(dir, 'y.yaml'), '--yes', '--host', '0.0.0.0'])
    assert.equal(open.code, 2)
    assert.match(open.stderr, /without authentication would let anyone in: add a first user \(--user NAME\), or --allow-anonymous/)
  })

  it('on a terminal: asks, with the defaults on Enter, and writes what was answered', async function () {
    if (!hasTmux()) this.skip()
    const file = join(dir, 'tty.yaml')
    const term = new TmuxSession(`cd ${JSON.stringify(dir)} && ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} init tty.yaml`, {width: 120, height: 40})
    try {
      await term.waitFor(/Address to listen on/, 30_000)
      term.keys('Enter')
      await term.waitFor(/TCP port/)
      term.keys('BSpace', 'BSpace', 'BSpace', 'BSpace', '1', '8', '8', '4', 'Enter')
      await term.waitFor(/WebSocket port/)
      term.keys('Enter')
      await term.waitFor(/WebSocket path/)
      term.keys('Enter')
      await term.waitFor(/TLS listeners/)
      term.keys('Enter')
      await term.waitFor(/Require a user name and password/)
      term.keys('y', 'Enter')
      await term.waitFor(/First user name/)
      term.keys('b', 'o', 'b', 'Enter')
      await term.waitFor(/Password for bob/)
      term.keys('p', 'w', '-', '1', '2', '3', '4', '5', 'Enter')
      await term.waitFor(/Again/)
      term.keys('p', 'w', '-', '1', '2', '3', '4', '5', 'Enter')
      await term.waitFor(/Data directory/)
      term.keys('Enter')
      await term.waitFor(/Admin API/)
      term.keys('Enter')
      const screen = await term.waitFor(/\[exit \d+\]/)
      assert.match(screen, /\[exit 0\]/)
      assert.doesNotMatch(screen, /pw-12345/)
    } finally {
      term.close()
    }
    const text = readFileSync(file, 'utf8')
    assert.match(text, /mqtt:\/\/127\.0\.0\.1:1884/)
    assert.match(text, /ws:\/\/127\.0\.0\.1:8083\/mqtt/)
    assert.match(readFileSync(join(dir, 'passwd'), 'utf8'), /^bob:\$7\$/)
  })
})
