/**
 * Authorization with the built binary: `serve --acl-file` with Mosquitto-syntax rules behaves
 * as Mosquitto documents them (pattern readwrite users/%u/#; user pub / topic write users/#),
 * refuses a 3.1.1 SUBSCRIBE to test/nosubscribe with 0x80 (Debian's mosquitto_sub), reloads
 * the file on SIGHUP and cuts an existing subscription; a missing file stops serve (exit 2);
 * authenticators without any ACL get a warning that says what to do; `listeners` shows it.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {connectMqttJs, delay, topicsWithin} from '../helpers/mqttjs.js'
import {tempDir} from '../helpers/auth.js'
import {runBin, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub'

const ACL = `# Mosquitto acl_file syntax
user pub
topic write users/#

pattern readwrite users/%u/#
`

function runQuiet(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.on('close', () => {
      clearTimeout(timer)
      resolve(out)
    })
  })
}

describe('e2e: authorization', function () {
  this.timeout(60_000)
  let serve: ServeProcess | undefined

  afterEach(async () => {
    if (serve) await serve.stop('SIGKILL')
    serve = undefined
  })

  it('serve --acl-file: Mosquitto rules hold, a 3.1.1 SUBSCRIBE to test/nosubscribe gets 0x80, SIGHUP reloads and cuts a subscription', async () => {
    const dir = tempDir('mqttws-acl-e2e-')
    const passwd = join(dir, 'passwd')
    const acl = join(dir, 'acl.conf')
    for (const user of ['alice', 'pub']) assert.equal((await runBin(['passwd', ...(user === 'alice' ? ['-c'] : []), '-b', '--iterations', '1000', passwd, user, `${user}-pw`])).code, 0)
    writeFileSync(acl, ACL)
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--password-file', passwd, '--acl-file', acl, '--admin', 'http://127.0.0.1:0', '--admin-token', 'tok-acl-test', '--admin-token-file', join(dir, 'token')])
    assert.doesNotMatch(serve.stderr(), /no ACL is configured/)
    const [tcp, ws] = serve.listeners

    if (existsSync(MOSQUITTO_SUB)) {
      const out = await runQuiet(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', String(tcp.port), '-V', 'mqttv311', '-u', 'alice', '-P', 'alice-pw', '-t', 'test/nosubscribe', '-W', '2'])
      assert.match(out, /All subscription requests were denied/)
    }

    const alice = await connectMqttJs(ws.url, {username: 'alice', password: 'alice-pw', protocolVersion: 4})
    const pub = await connectMqttJs(tcp.url, {username: 'pub', password: 'pub-pw', protocolVersion: 5})
    try {
      const granted = await alice.subscribeAsync('users/alice/#', {qos: 1})
      assert.equal(granted[0].qos, 1)
      // pub may write users/# but not read it; alice reads her own tree.
      await assert.rejects(pub.subscribeAsync('users/#'), /Not authorized/)
      let got = topicsWithin(alice, 500)
      await pub.publishAsync('users/alice/inbox', 'hi', {qos: 1})
      assert.deepEqual(await got, ['users/alice/inbox'])
      await assert.rejects(pub.publishAsync('other/topic', 'x', {qos: 1}), /Not authorized/)

      // The pattern goes: after SIGHUP alice's existing subscription receives nothing more.
      writeFileSync(acl, 'user pub\ntopic write users/#\n')
      serve.child.kill('SIGHUP')
      for (let i = 0; i < 50 && !/authentication reloaded/.test(serve.stderr()); i++) await delay(100)
      got = topicsWithin(alice, 500)
      await pub.publishAsync('users/alice/inbox', 'after reload', {qos: 1})
      assert.deepEqual(await got, [])

      const admin = serve.stdoutLines.map((l) => JSON.parse(l) as {event?: string; url?: string}).find((e) => e.event === 'admin')!
      const ls = await runBin(['listeners', '--admin', admin.url!, '--token', 'tok-acl-test'])
      assert.equal(ls.code, 0, ls.stderr)
      assert.match(ls.stdout, /authorization: ACL file .*acl\.conf \(1 rule\), no match: deny; refused: \d+ publish(es)?, \d+ subscriptions?, [1-9]\d* deliver(y|ies)/)
      // Per listener: on TCP pub's refused PUBLISH and SUBSCRIBE (and mosquitto_sub's), on WS alice's refused delivery.
      const subscribeDenied = existsSync(MOSQUITTO_SUB) ? 2 : 1
      assert.match(ls.stdout, new RegExp(`\\(${1 + subscribeDenied} denied\\)`))
      assert.match(ls.stdout, /1 \(1 denied\)/)
      const js = await runBin(['listeners', '--admin', admin.url!, '--token', 'tok-acl-test', '--json'])
      const rows = (JSON.parse(js.stdout) as {listeners: Array<{url: string; denied: {publish: number; subscribe: number; delivery: number}}>}).listeners
      assert.deepEqual(rows.find((l) => l.url === tcp.url)?.denied, {publish: 1, subscribe: subscribeDenied, delivery: 0})
      assert.deepEqual(rows.find((l) => l.url === ws.url)?.denied, {publish: 0, subscribe: 0, delivery: 1})
    } finally {
      alice.end(true)
      pub.end(true)
    }
  })

  it('a missing ACL file stops serve with exit 2 and says what to do', async () => {
    const r = await runBin(['serve', '--listen', 'mqtt://127.0.0.1:0', '--admin', 'off', '--acl-file', '/nonexistent/acl.conf'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /ACL file \/nonexistent\/acl\.conf does not exist: write one/)
  })

  it('authenticators without an ACL: serve warns that only granted topics work and names --acl-file and --acl-no-match allow', async () => {
    const dir = tempDir('mqttws-acl-e2e-')
    const passwd = join(dir, 'passwd')
    assert.equal((await runBin(['passwd', '-c', '-b', '--iterations', '1000', passwd, 'alice', 'alice-pw'])).code, 0)
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--password-file', passwd])
    assert.match(serve.stderr(), /no ACL is configured.*--acl-file FILE.*--acl-no-match allow/)
  })
})
