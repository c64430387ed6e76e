/**
 * mTLS: a TLS listener with a client CA asks for certificates; the client-cert
 * authenticator lets in a verified one with its CN as user name, over mqtts and wss. A
 * certificate from another CA is as good as none; with 'require' there is no handshake.
 */
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {runBin} from '../../helpers/spawn.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {testCertificate} from '../../helpers/certs.js'
import {connectCode, makeCa, makeClientCert, tempDir, tryConnect} from '../../helpers/auth.js'
import type {Pem} from '../../helpers/auth.js'

describe('auth: client certificates (mTLS)', function () {
  this.timeout(20000)
  let ca: Pem
  let device: Pem
  let rogue: Pem
  let tb: TestBroker

  before(async () => {
    ca = await makeCa('mqttws test client CA')
    device = await makeClientCert('device-1', ca)
    rogue = await makeClientCert('device-1', await makeCa('another CA'))
    const server = await testCertificate()
    tb = await startBroker({
      tls: {cert: server.cert, key: server.key, clientCa: ca.cert, clientCert: 'request'},
      auth: {authenticators: [{type: 'client-cert'}]},
    })
  })
  after(() => tb?.close())

  for (const scheme of ['mqtts', 'wss'] as const) {
    it(`${scheme}: a certificate from the client CA lets in, with its CN as user name (MQTT 5 and 3.1.1)`, async () => {
      for (const protocolVersion of [5, 4] as const) {
        const clientId = `cert-${scheme}-${protocolVersion}`
        const o = await tryConnect(tb.urls[scheme], {clientId, protocolVersion, username: 'spoofed', password: 'x', key: device.key, cert: device.cert})
        assert.equal(o.code, 0)
        assert.equal(tb.broker.clients.get(clientId)?.principal?.username, 'device-1')
        o.client!.end(true)
      }
    })
  }

  it('a certificate from another CA, or none, is not a credential (0x87 without a password, 0x86 with one)', async () => {
    assert.equal(await connectCode(tb.urls.mqtts, {protocolVersion: 5, key: rogue.key, cert: rogue.cert}), 0x87)
    assert.equal(await connectCode(tb.urls.wss, {protocolVersion: 5, username: 'device-1', password: 'x', key: rogue.key, cert: rogue.cert}), 0x86)
    assert.equal(await connectCode(tb.urls.mqtts, {protocolVersion: 4}), 5)
    assert.equal(await connectCode(tb.urls.mqtt, {protocolVersion: 5}), 0x87)
  })

  it("'require': no handshake without a verified certificate", async () => {
    const server = await testCertificate()
    const strict = await startBroker({
      listeners: ['mqtts://127.0.0.1:0'],
      tls: {cert: server.cert, key: server.key, clientCa: ca.cert, clientCert: 'require'},
      auth: {authenticators: [{type: 'client-cert'}]},
    })
    try {
      assert.equal(await connectCode(strict.urls.mqtts, {protocolVersion: 5, key: device.key, cert: device.cert}), 0)
      for (const o of [{}, {key: rogue.key, cert: rogue.cert}]) {
        const code = await connectCode(strict.urls.mqtts, {protocolVersion: 5, ...o}).catch(() => -2)
        assert.ok(code < 0, `refused at the handshake, not with CONNACK (${code})`)
      }
    } finally {
      await strict.close()
    }
  })

  it('bench conn --cert/--key (the built binary): its clients present the certificate over mqtts and wss', async () => {
    const dir = tempDir()
    const server = await testCertificate()
    for (const [name, text] of [['ca.pem', server.cert], ['dev.pem', device.cert], ['dev.key', device.key]]) writeFileSync(join(dir, name), text)
    for (const scheme of ['mqtts', 'wss'] as const) {
      const r = await runBin(['bench', 'conn', '--url', tb.urls[scheme], '-c', '5', '--cafile', join(dir, 'ca.pem'), '--cert', join(dir, 'dev.pem'), '--key', join(dir, 'dev.key'), '--json'], {timeoutMs: 30000})
      assert.equal(r.code, 0, r.stderr)
      assert.equal((JSON.parse(r.stdout) as {results: Array<{connects: number}>}).results[0].connects, 5, scheme)
    }
    const none = await runBin(['bench', 'conn', '--url', tb.urls.mqtts, '-c', '2', '--cafile', join(dir, 'ca.pem'), '--json'], {timeoutMs: 30000})
    assert.equal((JSON.parse(none.stdout) as {results: Array<{connects: number}>}).results[0].connects, 0, 'without the certificate: refused')
  })
})
