/**
 * The HTTP authenticator against a test service on 127.0.0.1 (EMQX's contract): allow,
 * deny, ignore, 204, 500, a timeout, the request body from the template, the positive
 * cache, and expire_at disconnecting the client.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {connectCode, tryConnect} from '../../helpers/auth.js'

describe('auth: HTTP authenticator', function () {
  this.timeout(20000)
  let server: http.Server
  let tb: TestBroker
  const requests: Array<Record<string, string>> = []

  before(async () => {
    server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        const b = JSON.parse(body) as Record<string, string>
        requests.push(b)
        const json = (status: number, v: unknown): void => {
          res.writeHead(status, {'content-type': 'application/json'})
          res.end(JSON.stringify(v))
        }
        switch (b.username) {
          case 'allow':
            return b.password === 'pw' ? json(200, {result: 'allow', is_superuser: true, acl: [{permission: 'allow', action: 'all', topic: '#'}]}) : json(200, {result: 'deny'})
          case 'deny':
            return json(200, {result: 'deny'})
          case 'ignore':
            return json(200, {result: 'ignore'})
          case 'nocontent':
            res.writeHead(204)
            return res.end()
          case 'broken':
            return json(500, {error: 'down'})
          case 'garbage':
            res.writeHead(200)
            return res.end('<html>')
          case 'slow':
            return // never answers
          case 'expiring':
            return json(200, {result: 'allow', expire_at: Math.floor(Date.now() / 1000) + 2})
          default:
            return json(200, {result: 'ignore'})
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`
    tb = await startBroker({auth: {authenticators: [{type: 'http', url, timeoutMs: 500, cacheTtlMs: 60_000}]}})
  })

  after(async () => {
    await tb?.close()
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
  })

  it('allow lets in with the answer in the principal; deny and ignore refuse 0x86 (3.1.1: 4); 204 allows', async () => {
    const o = await tryConnect(tb.urls.ws, {clientId: 'http-a', protocolVersion: 5, username: 'allow', password: 'pw'})
    assert.equal(o.code, 0)
    const p = tb.broker.clients.get('http-a')!.principal!
    assert.equal(p.superuser, true)
    assert.deepEqual(p.attributes?.acl, [{permission: 'allow', action: 'all', topic: '#'}])
    o.client!.end(true)
    const sent = requests.find((r) => r.clientid === 'http-a')!
    assert.deepEqual({...sent, peerhost: sent.peerhost}, {clientid: 'http-a', username: 'allow', password: 'pw', peerhost: '127.0.0.1', cert_common_name: ''})
    assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'allow', password: 'wrong'}), 0x86)
    assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'deny', password: 'x'}), 0x86)
    assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 4, username: 'deny', password: 'x'}), 4)
    assert.equal(await connectCode(tb.urls.mqtts, {protocolVersion: 5, username: 'ignore', password: 'x'}), 0x86)
    assert.equal(await connectCode(tb.urls.wss, {protocolVersion: 4, username: 'nocontent', password: 'x'}), 0)
  })

  it('fails closed: HTTP 500, an answer that is not JSON and a timeout refuse with 0x87 (3.1.1: 5)', async () => {
    assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'broken', password: 'x'}), 0x87)
    assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 4, username: 'broken', password: 'x'}), 5)
    assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'garbage', password: 'x'}), 0x87)
    assert.equal(await connectCode(tb.urls.ws, {protocolVersion: 5, username: 'slow', password: 'x'}), 0x87)
  })

  it('remembers an allow for the same credentials (one request), not a deny', async () => {
    const count = (u: string): number => requests.filter((r) => r.username === u && r.clientid === 'http-cache').length
    for (let i = 0; i < 3; i++) assert.equal(await connectCode(tb.urls.mqtt, {clientId: 'http-cache', username: 'allow', password: 'pw'}), 0)
    assert.equal(count('allow'), 1)
    for (let i = 0; i < 2; i++) assert.equal(await connectCode(tb.urls.mqtt, {clientId: 'http-cache', username: 'deny', password: 'pw'}), 4)
    assert.equal(count('deny'), 2)
  })

  it('expire_at disconnects the client when it passes (MQTT 5: DISCONNECT 0x87)', async () => {
    const o = await tryConnect(tb.urls.mqtt, {protocolVersion: 5, username: 'expiring', password: 'x'})
    assert.equal(o.code, 0)
    const reason = await new Promise<number | undefined>((resolve) => o.client!.once('disconnect', (p) => resolve(p.reasonCode)))
    assert.equal(reason, 0x87)
    o.client!.end(true)
  })
})
