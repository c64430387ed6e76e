/**
 * WebSocket credentials checked at the handshake: a JWT in the upgrade request
 * (Authorization: Bearer, or the configured query parameter) that is not valid (bad
 * signature, expired, wrong aud) gets HTTP 401 with WWW-Authenticate: Bearer
 * error="invalid_token", counted as rejected.token on its listener; a JWKS that cannot be
 * reached gets 503 (rejected.auth-backend); a valid token lets the CONNECT proceed; a
 * request without a token is not checked at the upgrade. A slow JWKS does not stop other
 * clients, and a stalled check is still cut by the handshake deadline.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {SignJWT, exportJWK, generateKeyPair} from 'jose'
import type {JWTPayload} from 'jose'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {connectCode} from '../../helpers/auth.js'
import {tryUpgrade} from '../../helpers/ws-wire.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'
const now = (): number => Math.floor(Date.now() / 1000)
const hs = (claims: JWTPayload, secret = SECRET): Promise<string> => new SignJWT(claims).setProtectedHeader({alg: 'HS256'}).sign(new TextEncoder().encode(secret))

describe('auth: WebSocket upgrade credentials', function () {
  this.timeout(30000)

  describe('a JWT with a secret (aud required, ?token= allowed)', () => {
    let tb: TestBroker
    before(async () => {
      tb = await startBroker({auth: {authenticators: [{type: 'jwt', secret: SECRET, audience: 'mqttws', queryParam: 'token'}]}})
    })
    after(() => tb?.close())

    const rejected = (scheme: 'ws' | 'wss'): Record<string, number> => tb.broker.listenerStatuses().find((l) => l.scheme === scheme)!.connections.rejected

    it('refuses bad tokens in the Authorization header or the query with 401 and WWW-Authenticate, counted as rejected.token', async () => {
      const cases: Array<[string, string]> = [
        ['bad signature', await hs({aud: 'mqttws', exp: now() + 600}, 'another-secret-of-at-least-32-bytes!!')],
        ['expired', await hs({aud: 'mqttws', exp: now() - 60})],
        ['wrong aud', await hs({aud: 'other', exp: now() + 600})],
        ['not a JWT', 'hello'],
      ]
      for (const scheme of ['ws', 'wss'] as const) {
        const before = rejected(scheme).token
        for (const [what, token] of cases) {
          for (const how of ['header', 'query'] as const) {
            const {response, ws} = await tryUpgrade({
              port: tb.ports[scheme],
              tls: scheme === 'wss',
              ...(how === 'header' ? {headers: [`Authorization: Bearer ${token}`]} : {path: `/mqtt?token=${encodeURIComponent(token)}`}),
            })
            ws?.close()
            assert.equal(response.status, 401, `${scheme} ${what} in the ${how}: ${response.body.toString()}`)
            assert.match(response.headers['www-authenticate'] ?? '', /^Bearer error="invalid_token"/, what)
            assert.match(response.body.toString(), /credentials of the upgrade request were refused/)
          }
        }
        assert.equal(rejected(scheme).token - before, cases.length * 2)
      }
    })

    it('a valid token completes the handshake and the CONNECT proceeds; no token: the handshake is not checked (the CONNECT is refused 0x87)', async () => {
      const token = await hs({aud: 'mqttws', exp: now() + 600})
      const {response, ws} = await tryUpgrade({port: tb.ports.ws, headers: [`Authorization: Bearer ${token}`]})
      ws?.close()
      assert.equal(response.status, 101)
      assert.equal(await connectCode(tb.urls.ws, {protocolVersion: 5, wsOptions: {headers: {Authorization: `Bearer ${token}`}}}), 0)
      assert.equal(await connectCode(`${tb.urls.wss}?token=${token}`, {protocolVersion: 4}), 0)
      assert.equal(await connectCode(tb.urls.ws, {protocolVersion: 5}), 0x87)
    })
  })

  describe('a JWKS that is slow or unreachable', () => {
    let tb: TestBroker
    let jwks: http.Server
    let hold = false
    const held: http.ServerResponse[] = []
    let body = ''

    before(async () => {
      const {publicKey, privateKey} = await generateKeyPair('ES256')
      body = JSON.stringify({keys: [{...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256'}]})
      jwks = http.createServer((_req, res) => {
        if (hold) held.push(res)
        else res.end(body)
      })
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve))
      const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`
      tb = await startBroker({
        limits: {connectTimeoutMs: 1500},
        auth: {authenticators: [{type: 'jwt', jwksUrl: url, jwksTimeoutMs: 500, jwksCooldownMs: 0, requireExp: false}, {type: 'password-file', file: '/dev/null'}]},
      })
      ;(tb as unknown as {key: unknown}).key = privateKey
    })
    after(async () => {
      for (const r of held) r.destroy()
      await tb?.close()
      await new Promise<void>((resolve) => jwks.close(() => resolve()))
    })

    it('a JWKS that does not answer in time: 503 (rejected.auth-backend); meanwhile other clients connect', async () => {
      hold = true
      const token = await new SignJWT({}).setProtectedHeader({alg: 'ES256', kid: 'k1'}).sign((tb as unknown as {key: CryptoKey}).key)
      const pending = tryUpgrade({port: tb.ports.ws, headers: [`Authorization: Bearer ${token}`]})
      // While the check waits for the JWKS, a client without a token goes through the handshake.
      const {response: plain, ws} = await tryUpgrade({port: tb.ports.ws})
      ws?.close()
      assert.equal(plain.status, 101)
      const {response} = await pending
      assert.equal(response.status, 503, response.body.toString())
      assert.equal(response.headers['retry-after'], '5')
      assert.equal(tb.broker.listenerStatuses().find((l) => l.scheme === 'ws')!.connections.rejected['auth-backend'], 1)
      hold = false
      const ok = await tryUpgrade({port: tb.ports.ws, headers: [`Authorization: Bearer ${token}`]})
      ok.ws?.close()
      assert.equal(ok.response.status, 101)
    })

    it('a check that outlasts the handshake deadline (a JWKS fetch slower than the connect timeout) is cut by it (rejected.handshake-timeout)', async () => {
      hold = true
      const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks-slow`
      const slow = await startBroker({
        listeners: ['ws://127.0.0.1:0/mqtt'],
        limits: {connectTimeoutMs: 800},
        auth: {authenticators: [{type: 'jwt', jwksUrl: url, jwksTimeoutMs: 60_000, requireExp: false}]},
      })
      try {
        const token = await new SignJWT({}).setProtectedHeader({alg: 'ES256', kid: 'k1'}).sign((tb as unknown as {key: CryptoKey}).key)
        await assert.rejects(tryUpgrade({port: slow.ports.ws, headers: [`Authorization: Bearer ${token}`], timeoutMs: 10_000}))
        assert.equal(slow.broker.listenerStatuses()[0].connections.rejected['handshake-timeout'], 1)
      } finally {
        await slow.close()
        hold = false
      }
    })
  })
})
