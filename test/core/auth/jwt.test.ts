/**
 * JWT authentication (jose mints the tokens): HMAC secret, public key and JWKS (rotated
 * mid-test, bounded refreshes, unreachable); forged tokens (alg none, HS256 with the RSA
 * public key as secret), expired, not yet valid, wrong aud, no exp, a claim bound to the
 * client id; WebSocket bearer header and query parameter; a token expiring in session.
 */
import assert from 'node:assert/strict'
import {createHmac} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {SignJWT, exportJWK, exportSPKI, generateKeyPair} from 'jose'
import type {JWK, JWTPayload} from 'jose'
import mqtt from 'mqtt'
import {SCHEMES, startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {connectCode, tryConnect} from '../../helpers/auth.js'
import {nextMessages} from '../../helpers/mqttjs.js'
import {closedPort} from '../../helpers/ports.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'
const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
const now = (): number => Math.floor(Date.now() / 1000)

function hs(claims: JWTPayload, secret: string | Uint8Array = SECRET, alg = 'HS256'): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
  return new SignJWT(claims).setProtectedHeader({alg}).sign(key)
}

describe('auth: JWT', function () {
  this.timeout(30000)

  describe('HS256 secret (aud required, clientid bound, no clock tolerance)', function () {
    let tb: TestBroker
    before(async () => {
      tb = await startBroker({
        auth: {
          authenticators: [{type: 'jwt', secret: SECRET, audience: 'mqttws', clockToleranceMs: 0, verifyClaims: {cid: '${clientid}'}, queryParam: 'token'}],
        },
      })
    })
    after(() => tb?.close())

    const good = (cid: string, extra: JWTPayload = {}): Promise<string> => hs({aud: 'mqttws', cid, exp: now() + 600, ...extra})

    for (const scheme of SCHEMES) {
      it(`${scheme}: a valid token in the password lets MQTT 5 and 3.1.1 in; its acl claim is in the principal`, async () => {
        for (const protocolVersion of [5, 4] as const) {
          const clientId = `jwt-${scheme}-${protocolVersion}`
          const acl = [{permission: 'allow', action: 'publish', topic: 't/#'}]
          const o = await tryConnect(tb.urls[scheme], {clientId, protocolVersion, username: 'u', password: await good(clientId, {acl})})
          assert.equal(o.code, 0)
          const p = tb.broker.clients.get(clientId)?.principal
          assert.deepEqual(p?.attributes?.acl, acl)
          assert.equal(typeof p?.expiresAt, 'number')
          o.client!.end(true)
        }
      })
    }

    it('refuses expired, not-yet-valid, wrong aud, no exp, another client id, a bad signature and alg none (0x86; 3.1.1: 4)', async () => {
      const url = tb.urls.mqtt
      const cid = 'jwt-bad'
      const cases: Array<[string, string]> = [
        ['expired', await good(cid, {exp: now() - 60})],
        ['nbf in the future', await good(cid, {nbf: now() + 600})],
        ['wrong aud', await hs({aud: 'other', cid, exp: now() + 600})],
        ['no exp', await hs({aud: 'mqttws', cid})],
        ['another client id', await good('someone-else')],
        ['wrong secret', await good(cid).then(() => hs({aud: 'mqttws', cid, exp: now() + 600}, 'another-secret-of-at-least-32-bytes!!'))],
        ['alg none', `${b64url({alg: 'none', typ: 'JWT'})}.${b64url({aud: 'mqttws', cid, exp: now() + 600})}.`],
      ]
      for (const [what, token] of cases) {
        assert.equal(await connectCode(url, {clientId: cid, protocolVersion: 5, username: 'u', password: token}), 0x86, what)
        assert.equal(await connectCode(url, {clientId: cid, protocolVersion: 4, username: 'u', password: token}), 4, what)
      }
    })

    it('takes the token from the WebSocket upgrade: Authorization: Bearer, or the ?token= query parameter; a bad one is refused', async () => {
      const cid = 'jwt-ws'
      const token = await good(cid)
      assert.equal(await connectCode(tb.urls.ws, {clientId: cid, protocolVersion: 5, wsOptions: {headers: {Authorization: `Bearer ${token}`}}}), 0)
      assert.equal(await connectCode(`${tb.urls.wss}?token=${token}`, {clientId: cid, protocolVersion: 4}), 0)
      // A bad one is refused at the handshake (HTTP 401: ws-upgrade.test.ts), so MQTT.js never gets a CONNACK.
      const expired = await good(cid, {exp: now() - 60})
      assert.equal(await connectCode(tb.urls.ws, {clientId: cid, protocolVersion: 5, wsOptions: {headers: {Authorization: `Bearer ${expired}`}}}).catch(() => -1), -1)
      assert.equal(await connectCode(`${tb.urls.ws}?token=${expired}`, {clientId: cid, protocolVersion: 5}).catch(() => -1), -1)
      // No token anywhere: not anonymous.
      assert.equal(await connectCode(tb.urls.ws, {clientId: cid, protocolVersion: 5}), 0x87)
    })

    it('disconnects a client when its token expires (MQTT 5: DISCONNECT 0x87; 3.1.1: the connection closes)', async () => {
      const exp = now() + 2
      const v5 = await tryConnect(tb.urls.ws, {clientId: 'jwt-exp5', protocolVersion: 5, username: 'u', password: await good('jwt-exp5', {exp})})
      const v4 = await tryConnect(tb.urls.mqtt, {clientId: 'jwt-exp4', protocolVersion: 4, username: 'u', password: await good('jwt-exp4', {exp})})
      assert.equal(v5.code, 0)
      assert.equal(v4.code, 0)
      const disconnect = new Promise<number | undefined>((resolve) => v5.client!.once('disconnect', (p) => resolve(p.reasonCode)))
      const closed = new Promise<void>((resolve) => v4.client!.once('close', () => resolve()))
      assert.equal(await disconnect, 0x87)
      await closed
      v5.client!.end(true)
      v4.client!.end(true)
    })
  })

  describe('RS256 public key', function () {
    let tb: TestBroker
    let privateKey: CryptoKey
    let publicPem: string
    before(async () => {
      const pair = await generateKeyPair('RS256', {extractable: true})
      privateKey = pair.privateKey as CryptoKey
      publicPem = await exportSPKI(pair.publicKey)
      tb = await startBroker({auth: {authenticators: [{type: 'jwt', publicKey: publicPem, algorithms: ['RS256']}]}})
    })
    after(() => tb?.close())

    it('accepts RS256; refuses HS256 signed with the public key as secret, alg none, and an RS256 token without exp', async () => {
      const rs = await new SignJWT({exp: now() + 600}).setProtectedHeader({alg: 'RS256'}).sign(privateKey)
      assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'u', password: rs}), 0)
      // The classic confusion attack: HMAC with the (public) PEM text as the secret.
      const header = b64url({alg: 'HS256', typ: 'JWT'})
      const body = b64url({exp: now() + 600})
      const mac = createHmac('sha256', publicPem).update(`${header}.${body}`).digest('base64url')
      assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'u', password: `${header}.${body}.${mac}`}), 0x86)
      assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'u', password: `${b64url({alg: 'none'})}.${body}.`}), 0x86)
      const noExp = await new SignJWT({sub: 'x'}).setProtectedHeader({alg: 'RS256'}).sign(privateKey)
      assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'u', password: noExp}), 0x86)
    })
  })

  describe('JWKS', function () {
    let tb: TestBroker
    let server: http.Server
    let keys: JWK[] = []
    let fetches = 0
    let url: string
    const pairs: Array<{kid: string; privateKey: CryptoKey; jwk: JWK}> = []

    before(async () => {
      for (const kid of ['k1', 'k2', 'k3']) {
        const pair = await generateKeyPair('ES256', {extractable: true})
        pairs.push({kid, privateKey: pair.privateKey as CryptoKey, jwk: {...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig'}})
      }
      keys = [pairs[0].jwk]
      server = http.createServer((_req, res) => {
        fetches++
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({keys}))
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
      tb = await startBroker({auth: {authenticators: [{type: 'jwt', jwksUrl: url, jwksCooldownMs: 0}]}})
    })
    after(async () => {
      await tb?.close()
      server?.closeAllConnections()
      await new Promise((resolve) => server?.close(resolve))
    })

    const token = (i: number): Promise<string> => new SignJWT({exp: now() + 600}).setProtectedHeader({alg: 'ES256', kid: pairs[i].kid}).sign(pairs[i].privateKey)

    it('finds keys by kid, follows a rotation (unknown kid → fetched again), and refuses the retired key', async () => {
      assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'u', password: await token(0)}), 0)
      keys = [pairs[1].jwk] // rotated: k1 retired, k2 in
      assert.equal(await connectCode(tb.urls.ws, {protocolVersion: 5, username: 'u', password: await token(1)}), 0)
      assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'u', password: await token(0)}), 0x86)
      assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 4, username: 'u', password: await token(1)}), 0)
    })

    it('an unknown kid fetches the set again at most once per cooldown', async () => {
      const tb2 = await startBroker({listeners: ['mqtt://127.0.0.1:0'], auth: {authenticators: [{type: 'jwt', jwksUrl: url, jwksCooldownMs: 60_000}]}})
      try {
        keys = [pairs[1].jwk]
        assert.equal(await connectCode(tb2.urls.mqtt, {protocolVersion: 5, username: 'u', password: await token(1)}), 0)
        const before = fetches
        for (let i = 0; i < 5; i++) assert.equal(await connectCode(tb2.urls.mqtt, {protocolVersion: 5, username: 'u', password: await token(2)}), 0x86)
        assert.ok(fetches - before <= 1, `${fetches - before} fetches for 5 unknown kids`)
      } finally {
        await tb2.close()
      }
    })

    it('refuses (0x87) when the JWKS cannot be fetched', async () => {
      const tb3 = await startBroker({listeners: ['mqtt://127.0.0.1:0'], auth: {authenticators: [{type: 'jwt', jwksUrl: `http://127.0.0.1:${await closedPort()}/none.json`, jwksTimeoutMs: 2000}]}})
      try {
        assert.equal(await connectCode(tb3.urls.mqtt, {protocolVersion: 5, username: 'u', password: await token(0)}), 0x87)
        assert.equal(await connectCode(tb3.urls.mqtt, {protocolVersion: 4, username: 'u', password: await token(0)}), 5)
      } finally {
        await tb3.close()
      }
    })
  })

  it('with allowAnonymous, a client without credentials is let in, one with a bad token is not', async () => {
    const tb = await startBroker({listeners: ['mqtt://127.0.0.1:0'], auth: {allowAnonymous: true, authenticators: [{type: 'jwt', secret: SECRET}]}, authorization: {noMatch: 'allow'}})
    try {
      const anon = await tryConnect(tb.urls.mqtt, {protocolVersion: 5})
      assert.equal(anon.code, 0)
      await anon.client!.subscribeAsync('anon/t')
      const got = nextMessages(anon.client!, 1)
      const pub = mqtt.connect(tb.urls.mqtt, {protocolVersion: 5, username: 'u', password: await hs({exp: now() + 60}), reconnectPeriod: 0})
      await pub.publishAsync('anon/t', 'x')
      assert.equal((await got)[0].payload.toString(), 'x')
      pub.end(true)
      anon.client!.end(true)
      assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'u', password: 'not-a-token'}), 0x86)
      assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5, username: 'u', password: await hs({exp: now() - 60})}), 0x86)
    } finally {
      await tb.close()
    }
  })
})
