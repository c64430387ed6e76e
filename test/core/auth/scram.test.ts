/**
 * SCRAM-SHA-256/512 (RFC 5802, RFC 7677): the math against RFC 7677's test vector (and a
 * SHA-512 vector computed with Python's hashlib/hmac), the password-file entries, and MQTT 5
 * enhanced authentication end to end with MQTT.js as the client (its handleAuth, with SCRAM
 * written from the RFC in test/helpers/scram.ts): success with the server's signature in
 * CONNACK, a wrong proof and an unknown user (0x86), an unknown method (0x8C), a client that
 * stalls mid-exchange (cut at the connect timeout), the plain password path against the same
 * entries, and a Mosquitto $7$ line beside them.
 */
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import mqtt from 'mqtt'
import type {IConnackPacket} from 'mqtt'
import {editPasswordFile, parsePasswordFile} from '../../../src/core/auth/password-file.js'
import {parseHash, verifyPassword} from '../../../src/core/auth/password-hash.js'
import {formatScramCredentials, keysOf, makeScramCredentials, parseScramCredentials, saltedPassword} from '../../../src/core/auth/scram.js'
import type {ScramCredentials} from '../../../src/core/auth/scram.js'
import {ScramClient} from '../../../src/core/auth/scram-client.js'
import {ScramServerExchange} from '../../../src/core/auth/scram-server.js'
import {renderPrometheus} from '../../../src/core/admin/prometheus.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {connectCode, hasMosquittoPasswd, mosquittoPasswd, tempDir} from '../../helpers/auth.js'
import {testClientOptions} from '../../helpers/mqttjs.js'
import {scramTestClient} from '../../helpers/scram.js'

// RFC 7677 §3.
const RFC = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
}
// The same exchange with SHA-512, computed by Python 3's hashlib.pbkdf2_hmac and hmac.
const SHA512 = {
  proof: 'gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==',
  serverFinal: 'v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==',
}

async function rfcCredentials(algorithm: 'sha256' | 'sha512'): Promise<ScramCredentials> {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64')
  const {storedKey, serverKey} = keysOf(algorithm, await saltedPassword(algorithm, Buffer.from('pencil'), salt, 4096))
  return {kind: 'scram', algorithm, iterations: 4096, salt, storedKey, serverKey}
}

describe('auth: SCRAM math and entries', () => {
  it("our client reproduces RFC 7677's SCRAM-SHA-256 test vector and checks its server signature", async () => {
    const c = new ScramClient('sha256', 'user', Buffer.from('pencil'), RFC.clientNonce)
    assert.equal(c.first().toString(), `n,,n=user,r=${RFC.clientNonce}`)
    assert.equal((await c.final(Buffer.from(RFC.serverFirst))).toString(), RFC.clientFinal)
    assert.equal(c.verifyServer(Buffer.from(RFC.serverFinal)), undefined)
    assert.match(c.verifyServer(Buffer.from('v=AAAA')) ?? '', /signature is wrong/)
  })

  it('SCRAM-SHA-512 gives the proof and signature Python computes', async () => {
    const c = new ScramClient('sha512', 'user', Buffer.from('pencil'), RFC.clientNonce)
    const final = (await c.final(Buffer.from(RFC.serverFirst))).toString()
    assert.equal(final.slice(final.indexOf(',p=') + 3), SHA512.proof)
    assert.equal(c.verifyServer(Buffer.from(SHA512.serverFinal)), undefined)
  })

  it('the server side accepts the RFC client and answers with the RFC signature for its own nonce', async () => {
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const cred = await rfcCredentials(algorithm)
      const server = new ScramServerExchange({algorithm, lookup: (u) => (u === 'user' ? cred : undefined), authenticator: 'test'})
      const client = new ScramClient(algorithm, 'user', Buffer.from('pencil'))
      const first = await server.step(client.first())
      assert.equal(first.done, false)
      assert.match(first.data!.toString(), /^r=[^,]+,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096$/)
      const last = await server.step(await client.final(first.data))
      assert.ok(last.done && last.result.ok, JSON.stringify(last))
      assert.equal(client.verifyServer(last.data), undefined)
    }
  })

  it('refuses a wrong password, an unknown user (after a made-up salt, the same each time), channel binding and garbage', async () => {
    const cred = await rfcCredentials('sha256')
    const lookup = (u: string): ScramCredentials | undefined => (u === 'user' ? cred : undefined)
    const run = async (user: string, password: string): Promise<{code: number; serverFirst: string}> => {
      const server = new ScramServerExchange({algorithm: 'sha256', lookup, authenticator: 'test', fakeIterations: 4096})
      const client = new ScramClient('sha256', user, Buffer.from(password))
      const first = await server.step(client.first())
      const last = await server.step(await client.final(first.data!))
      assert.ok(last.done)
      return {code: last.result.ok ? 0 : last.result.reasonCode, serverFirst: first.data!.toString()}
    }
    assert.equal((await run('user', 'pencil')).code, 0)
    assert.equal((await run('user', 'pencil!')).code, 0x86)
    const a = await run('nobody', 'x')
    const b = await run('nobody', 'y')
    assert.equal(a.code, 0x86)
    assert.equal(a.serverFirst.split(',')[1], b.serverFirst.split(',')[1], 'the same salt for the same unknown user')
    const plus = await new ScramServerExchange({algorithm: 'sha256', lookup, authenticator: 'test'}).step(Buffer.from('p=tls-unique,,n=user,r=abc'))
    assert.ok(plus.done && !plus.result.ok && plus.result.reasonCode === 0x8c)
    const garbage = await new ScramServerExchange({algorithm: 'sha256', lookup, authenticator: 'test'}).step(Buffer.from('hello'))
    assert.ok(garbage.done && !garbage.result.ok && garbage.result.reasonCode === 0x82)
  })

  it('entries: format and parse round trip, bad ones named, the plain password verifies against StoredKey', async () => {
    const c = await makeScramCredentials('sha256', 'pw', 4096)
    const text = formatScramCredentials(c)
    assert.match(text, /^\$scram-sha-256\$4096\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}\$[A-Za-z0-9+/=]{44}$/)
    assert.deepEqual(parseScramCredentials(text), c)
    assert.match(String(parseScramCredentials('$scram-sha-256$100$AA==$AA==$AA==')), /iterations "100" must be 4096/)
    assert.match(String(parseScramCredentials('$scram-sha-512$4096$AA==$AA==')), /is \$scram-…\$ITERATIONS/)
    assert.match(String(parseHash('$scram-sha-1$4096$AA==$AA==$AA==')), /unknown hash type/)
    const h = parseHash(text)
    assert.ok(typeof h !== 'string')
    assert.equal(await verifyPassword(Buffer.from('pw'), h), true)
    assert.equal(await verifyPassword(Buffer.from('pw2'), h), false)
    await assert.rejects(makeScramCredentials('sha512', 'pw', 1000), /from 4096/)
  })
})

describe('auth: SCRAM over MQTT 5 enhanced authentication (MQTT.js)', function () {
  this.timeout(30000)
  let tb: TestBroker
  let file: string

  before(async () => {
    file = join(tempDir(), 'passwd')
    await editPasswordFile(file, {op: 'set', user: 'sam', password: 'sam-pw', scram: 'sha256', iterations: 4096}, {create: true})
    await editPasswordFile(file, {op: 'set', user: 'sue', password: 'sue-pw', scram: 'sha512', iterations: 4096})
    if (hasMosquittoPasswd()) mosquittoPasswd('-b', file, 'moe', 'moe-pw')
    else await editPasswordFile(file, {op: 'set', user: 'moe', password: 'moe-pw', iterations: 1000})
    tb = await startBroker({auth: {authenticators: [{type: 'password-file', file}]}, limits: {connectTimeoutMs: 1500}})
  })

  after(async () => {
    await tb?.close()
  })

  /** Connects MQTT.js with SCRAM; resolves with the CONNACK (code 0) or the refusal code. */
  async function scramConnect(url: string, method: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', user: string, pw: string, opts: {proof?: 'wrong'; stall?: boolean} = {}) {
    const s = scramTestClient(method, user, pw, opts)
    const client = mqtt.connect(url, await testClientOptions(url, {...s.options, connectTimeout: 10_000}))
    s.attach(client)
    return new Promise<{code: number; connack?: IConnackPacket; expected?: string; closed?: boolean}>((resolve) => {
      client.once('connect', (connack) => {
        client.end(true)
        resolve({code: 0, connack, expected: s.expectedServerFinal()})
      })
      client.once('error', (error: Error & {code?: number}) => {
        client.end(true)
        resolve({code: typeof error.code === 'number' ? error.code : -1})
      })
      client.once('close', () => setTimeout(() => resolve({code: -1, closed: true}), 50))
    })
  }

  it('SCRAM-SHA-256 and SCRAM-SHA-512 over mqtt, mqtts, ws and wss: CONNACK 0x00 carries the server signature', async () => {
    for (const scheme of ['mqtt', 'mqtts', 'ws', 'wss'] as const) {
      for (const [method, user, pw] of [['SCRAM-SHA-256', 'sam', 'sam-pw'], ['SCRAM-SHA-512', 'sue', 'sue-pw']] as const) {
        const r = await scramConnect(tb.urls[scheme], method, user, pw)
        assert.equal(r.code, 0, `${scheme} ${method}`)
        assert.equal(r.connack?.properties?.authenticationMethod, method)
        assert.equal(r.connack?.properties?.authenticationData?.toString(), r.expected)
      }
    }
  })

  it('a wrong proof, an unknown user and a user without a SCRAM entry get CONNACK 0x86; an unknown method 0x8C', async () => {
    const url = tb.urls.mqtt
    assert.equal((await scramConnect(url, 'SCRAM-SHA-256', 'sam', 'sam-pw', {proof: 'wrong'})).code, 0x86)
    assert.equal((await scramConnect(url, 'SCRAM-SHA-256', 'sam', 'not-it')).code, 0x86)
    assert.equal((await scramConnect(url, 'SCRAM-SHA-256', 'nobody', 'x')).code, 0x86)
    assert.equal((await scramConnect(url, 'SCRAM-SHA-512', 'sam', 'sam-pw')).code, 0x86, 'sam has a SHA-256 entry only')
    assert.equal((await scramConnect(url, 'SCRAM-SHA-256', 'moe', 'moe-pw')).code, 0x86, 'a $7$ line has no SCRAM keys')
    assert.equal(await connectCode(url, {protocolVersion: 5, properties: {authenticationMethod: 'GS2-KRB5', authenticationData: Buffer.from('x')}}), 0x8c)
    const mqttListener = tb.broker.listenerStatuses().find((l) => l.scheme === 'mqtt')!
    assert.ok(mqttListener.connections.rejected.auth >= 6)
    assert.ok(mqttListener.connections.authFailures['bad-credentials'] >= 5)
    assert.equal(mqttListener.connections.authFailures['bad-method'], 1)
    assert.match(renderPrometheus(tb.broker, 1), new RegExp(`mqttws_auth_failures_by_reason_total\\{listener="${mqttListener.id}",transport="[a-z]+",reason="bad-method"\\} 1`))
  })

  it('a client that stalls in the middle of the exchange is cut at the connect timeout', async () => {
    const timeouts = (): number => tb.broker.listenerStatuses().find((l) => l.scheme === 'ws')!.connections.rejected['handshake-timeout']
    const before = timeouts()
    const r = await scramConnect(tb.urls.ws, 'SCRAM-SHA-256', 'sam', 'sam-pw', {stall: true})
    assert.equal(r.code, -1)
    assert.equal(r.closed, true)
    assert.equal(timeouts() - before, 1)
  })

  it('the plain user name/password path checks SCRAM entries too, and Mosquitto lines still work beside them', async () => {
    assert.equal(await connectCode(tb.urls.mqtt, {username: 'sam', password: 'sam-pw'}), 0)
    assert.equal(await connectCode(tb.urls.ws, {protocolVersion: 5, username: 'sue', password: 'sue-pw'}), 0)
    assert.equal(await connectCode(tb.urls.mqtt, {username: 'sam', password: 'wrong'}), 4)
    assert.equal(await connectCode(tb.urls.mqtt, {username: 'moe', password: 'moe-pw'}), 0)
    const {users, problems} = parsePasswordFile(readFileSync(file, 'utf8'), file)
    assert.deepEqual(problems, [])
    assert.equal(users.get('sam')?.kind, 'scram')
  })

  it('a broken SCRAM line is skipped with a message and its user cannot log in; the others can', async () => {
    const f = join(tempDir(), 'passwd')
    writeFileSync(f, `${readFileSync(file, 'utf8')}bad:$scram-sha-256$4096$AA==$AA==$AA==\n`)
    const {users, problems} = parsePasswordFile(readFileSync(f, 'utf8'), f)
    assert.equal(users.has('bad'), false)
    assert.match(problems[0], /user "bad": the SCRAM keys must be 32 bytes/)
  })
})
