/**
 * TLS listeners (issue 13): TLS 1.2 at least (TLS 1.1 refused, counted as `tls`; TLSv1.3 as
 * the floor refuses 1.2 too), and a handshake that stalls is cut at the connect timeout,
 * counted as `handshake-timeout` (Node's own default is 120 s). mqtts:// and wss://.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import tls from 'node:tls'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {testCertificate} from '../../helpers/certs.js'
import {connectMqttJs} from '../../helpers/mqttjs.js'

/** A TLS handshake limited to one version: resolves with the negotiated protocol, or the error. */
async function handshake(port: number, version: tls.SecureVersion): Promise<string> {
  const cert = await testCertificate()
  return new Promise((resolve) => {
    const s = tls.connect({
      port,
      host: '127.0.0.1',
      ca: cert.cert,
      servername: 'localhost',
      minVersion: version,
      maxVersion: version,
      // OpenSSL 3 offers TLS 1.0/1.1 only at security level 0: let the client try, so that the broker is what refuses.
      ciphers: 'DEFAULT@SECLEVEL=0',
    })
    s.once('secureConnect', () => {
      resolve(s.getProtocol() ?? '?')
      s.destroy()
    })
    s.once('error', (e) => resolve(`error: ${e.message}`))
  })
}

describe('guard: TLS listeners', function () {
  let b: TestBroker
  afterEach(async () => b?.close())

  it('refuses a TLS 1.1 client on mqtts:// and wss:// (counted as tls), accepts 1.2 and 1.3, even when the process allows TLS 1.0', async () => {
    // As `node --tls-min-v1.0` would: the listeners must say TLS 1.2 themselves.
    const processDefault = tls.DEFAULT_MIN_VERSION
    tls.DEFAULT_MIN_VERSION = 'TLSv1'
    try {
      b = await startBroker({})
    } finally {
      tls.DEFAULT_MIN_VERSION = processDefault
    }
    for (const [scheme, id] of [['mqtts', 'mqtts:0'], ['wss', 'wss:0']] as const) {
      const stats = b.broker.listenerTable.get(id)!.stats
      const result = await handshake(b.ports[scheme], 'TLSv1.1')
      // "protocol version" (the broker's floor), not OpenSSL's security level ("internal error").
      assert.match(result, /^error: .*alert protocol version/i, result)
      for (let i = 0; i < 50 && stats.rejected.tls === 0; i++) await new Promise((r) => setTimeout(r, 20))
      assert.equal(stats.rejected.tls, 1, scheme)
      assert.equal(await handshake(b.ports[scheme], 'TLSv1.2'), 'TLSv1.2')
      assert.equal(await handshake(b.ports[scheme], 'TLSv1.3'), 'TLSv1.3')
    }
  })

  it('guard.tlsMinVersion TLSv1.3 refuses TLS 1.2', async () => {
    b = await startBroker({guard: {tlsMinVersion: 'TLSv1.3'}})
    assert.match(await handshake(b.ports.mqtts, 'TLSv1.2'), /^error: /)
    assert.equal(await handshake(b.ports.mqtts, 'TLSv1.3'), 'TLSv1.3')
    const c = await connectMqttJs(b.urls.mqtts, {clientId: 'tls13', protocolVersion: 5})
    c.end(true)
  })

  it('cuts a stalled TLS handshake at the connect timeout, counted as handshake-timeout', async () => {
    b = await startBroker({limits: {connectTimeoutMs: 300}})
    for (const [scheme, id] of [['mqtts', 'mqtts:0'], ['wss', 'wss:0']] as const) {
      const socket = net.connect(b.ports[scheme], '127.0.0.1')
      socket.on('error', () => {})
      // The first bytes of a ClientHello record header, then silence.
      socket.write(Buffer.from([0x16, 0x03, 0x01]))
      await new Promise<void>((resolve) => socket.once('close', () => resolve()))
      const stats = b.broker.listenerTable.get(id)!.stats
      assert.equal(stats.rejected['handshake-timeout'], 1, scheme)
      assert.equal(stats.rejected.tls, 0, scheme)
    }
  })
})
