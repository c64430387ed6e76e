/**
 * The HTTP authorizer against a test server on loopback: allow, deny, ignore (then noMatch),
 * 204, 500 and a timeout (both refuse), answers remembered per client, forgotten on reload;
 * a PUBLISH waiting for the service keeps the connection's packet order. Also the
 * configuration's errors and the Authorizer's own rules (expired credentials, $ topics).
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {SignJWT} from 'jose'
import {Authorizer} from '../../../src/core/authz/authorizer.js'
import {resolveAuthorizationConfig} from '../../../src/core/authz/config.js'
import type {Principal} from '../../../src/core/broker/auth.js'
import {noopLogger} from '../../../src/core/logger.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {connectMqttJs, nextMessages} from '../../helpers/mqttjs.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'

function token(): Promise<string> {
  return new SignJWT({exp: Math.floor(Date.now() / 1000) + 600}).setProtectedHeader({alg: 'HS256'}).sign(new TextEncoder().encode(SECRET))
}

describe('authz: HTTP authorizer', function () {
  this.timeout(30_000)
  let server: http.Server
  let url: string
  const requests: Array<Record<string, string>> = []
  let tb: TestBroker

  before(async () => {
    server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        const r = JSON.parse(body) as Record<string, string>
        requests.push(r)
        const answer = (status: number, json?: unknown): void => {
          res.writeHead(status, {'content-type': 'application/json'})
          res.end(json === undefined ? undefined : JSON.stringify(json))
        }
        const t = r.topic
        if (t.startsWith('allow/')) answer(200, {result: 'allow'})
        else if (t.startsWith('deny/')) answer(200, {result: 'deny'})
        else if (t.startsWith('ignore/')) answer(200, {result: 'ignore'})
        else if (t.startsWith('nocontent/')) answer(204)
        else if (t.startsWith('slow/')) setTimeout(() => answer(200, {result: 'allow'}), 1500)
        else answer(500, {error: 'boom'})
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/authz`
    tb = await startBroker({auth: {authenticators: [{type: 'jwt', secret: SECRET}]}, authorization: {http: {url, timeoutMs: 500, cacheTtlMs: 60_000}}})
  })

  after(async () => {
    await tb?.close()
    server?.close()
  })

  it('allow, 204 and deny decide; ignore falls to noMatch (deny); 500 and a timeout refuse', async () => {
    const c = await connectMqttJs(tb.urls.mqtt, {username: 'alice', password: await token(), protocolVersion: 5, clientId: 'h1'})
    try {
      const code = (topic: string): Promise<number> =>
        new Promise((resolve) => {
          c.publish(topic, 'x', {qos: 1}, (error, packet) => resolve((error as {code?: number} | undefined)?.code ?? (packet as {reasonCode?: number} | undefined)?.reasonCode ?? 0))
        })
      assert.equal(await code('allow/a'), 0)
      assert.equal(await code('nocontent/a'), 0)
      assert.equal(await code('deny/a'), 0x87)
      assert.equal(await code('ignore/a'), 0x87)
      assert.equal(await code('error/a'), 0x87)
      assert.equal(await code('slow/a'), 0x87)
      const r = requests.find((x) => x.topic === 'allow/a')!
      assert.deepEqual(r, {action: 'publish', topic: 'allow/a', qos: '1', retain: 'false', clientid: 'h1', username: 'alice', peerhost: '127.0.0.1'})
      // Remembered per client: the same publish again asks nobody.
      const before = requests.length
      assert.equal(await code('allow/a'), 0)
      assert.equal(requests.length, before)
      // Reload forgets.
      await tb.broker.reloadAuth()
      assert.equal(await code('allow/a'), 0)
      assert.equal(requests.length, before + 1)
    } finally {
      c.end(true)
    }
  })

  it('subscriptions are asked as "subscribe"; packets after a waiting PUBLISH keep their order', async () => {
    const c = await connectMqttJs(tb.urls.ws, {username: 'bob', password: await token(), protocolVersion: 5, clientId: 'h2'})
    try {
      const granted = await c.subscribeAsync('allow/#', {qos: 0})
      assert.equal(granted[0].qos, 0)
      assert.equal(requests.at(-1)!.action, 'subscribe')
      // Three publishes, the first two each waiting for the service: they arrive in order.
      const got = nextMessages(c, 3)
      c.publish('allow/first', '1', {qos: 0})
      c.publish('allow/second', '2', {qos: 0})
      c.publish('allow/first', '3', {qos: 0})
      assert.deepEqual((await got).map((m) => m.payload.toString()), ['1', '2', '3'])
    } finally {
      c.end(true)
    }
  })
})

describe('authz: configuration and the Authorizer', () => {
  const p = (over: Partial<Principal> = {}): Principal => ({clientId: 'c', username: 'u', superuser: false, attributes: undefined, ...over})

  it('says which setting is wrong', () => {
    assert.throws(() => resolveAuthorizationConfig({noMatch: 'maybe'}, false), /setting "authorization.noMatch" is "maybe": use allow or deny/)
    assert.throws(() => resolveAuthorizationConfig({aclfile: 'x'}, false), /unknown setting "authorization.aclfile"/)
    assert.throws(() => resolveAuthorizationConfig({rules: [{permission: 'allow', topic: 'a/#/b'}]}, false), /authorization.rules\[0\]\.topic: "#" must be the last level/)
    assert.throws(() => resolveAuthorizationConfig({acl: 'topic\n'}, false), /authorization.acl:1/)
    assert.throws(() => resolveAuthorizationConfig({http: {url: 'ftp://x'}}, false), /http:\/\/ or https:\/\//)
    assert.equal(resolveAuthorizationConfig(undefined, false).enabled, false)
    assert.equal(resolveAuthorizationConfig(undefined, true).noMatch, 'deny')
    assert.equal(resolveAuthorizationConfig({acl: 'topic a\n'}, false).noMatch, 'deny')
  })

  it('refuses everything to expired credentials, reaches "$" topics only by rule, and forgets decisions on reload', async () => {
    let text = 'topic readwrite a/#\ntopic read $SYS/x\n'
    const authz = new Authorizer(resolveAuthorizationConfig({aclFile: '/acl', noMatch: 'allow'}, false), noopLogger, () => Promise.resolve(text))
    await authz.reload()
    const anon = p({username: undefined})
    assert.equal(authz.canPublish(anon, 'a/b', 0, false), true)
    assert.equal(authz.canPublish(anon, 'z/b', 0, false), true) // noMatch allow
    assert.equal(authz.canPublish(anon, '$SYS/x', 0, false), false) // never by noMatch
    assert.equal(authz.mayRead(anon, '$SYS/x'), true)
    assert.equal(authz.mayRead(anon, '$SYS/y'), false)
    const expired = p({username: undefined, expiresAt: Date.now() - 1})
    assert.equal(authz.canPublish(expired, 'a/b', 0, false), false)
    assert.equal(authz.mayRead(expired, 'a/b'), false)
    text = 'topic deny a/#\n'
    assert.equal(authz.mayRead(anon, 'a/b'), true)
    await authz.reload()
    assert.equal(authz.mayRead(anon, 'a/b'), false)
    assert.equal(authz.canPublish(anon, 'a/b', 0, false), false)
    // A principal ACL that cannot be read refuses everything (fail closed).
    const broken = p({attributes: {acl: 'not a list'}})
    assert.equal(authz.canPublish(broken, 'z/b', 0, false), false)
    assert.equal(authz.canSubscribe(broken, 'z/b', 1), false)
  })
})
