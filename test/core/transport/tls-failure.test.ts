/**
 * A failed TLS handshake is reported to the operator with the client's address and OpenSSL's
 * reason in words: plain MQTT or HTTP to a TLS port, a client that hangs up mid-handshake
 * (one that does not trust the certificate), on mqtts:// and wss://.
 */
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import net from 'node:net'
import tls from 'node:tls'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {tlsFailureReason} from '../../../src/core/transport/tls-failure.js'

type Rejection = {listener: string; reason: string; detail: string}

function nextRejection(b: TestBroker): Promise<Rejection> {
  return new Promise((resolve) => b.broker.once('rejected', (listener: string, reason: string, detail: string) => resolve({listener, reason, detail})))
}

/** Sends `bytes` in the clear to a TLS port, and waits until the broker closes. */
function sendPlain(port: number, bytes: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes))
    s.on('error', () => {})
    s.on('close', () => resolve())
  })
}

/** A TLS client that refuses the broker's certificate (no CA given): it hangs up in the handshake. */
function untrustingClient(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = tls.connect({port, host: '127.0.0.1', servername: 'localhost'})
    s.on('error', () => resolve())
    s.on('close', () => resolve())
  })
}

describe('TLS handshake failures, as the broker reports them', function () {
  let b: TestBroker
  afterEach(async () => b?.close())

  for (const [scheme, id] of [['mqtts', 'mqtts:0'], ['wss', 'wss:0']] as const) {
    it(`${scheme}: plain MQTT, plain HTTP and a client that hangs up, each with its address and the likely mistake`, async () => {
      b = await startBroker({})
      const port = b.ports[scheme]
      let r = nextRejection(b)
      // A 3.1.1 CONNECT in the clear.
      await sendPlain(port, Buffer.from('100c00044d5154540402003c0000', 'hex'))
      let got = await r
      assert.equal(got.listener, id)
      assert.equal(got.reason, 'tls')
      assert.match(got.detail, /^TLS handshake with 127\.0\.0\.1:\d+ failed: the client did not speak TLS \(plain MQTT to a TLS port\? it should connect with mqtts:\/\/ or wss:\/\/\)$/)

      r = nextRejection(b)
      await sendPlain(port, 'GET /mqtt HTTP/1.1\r\nHost: localhost\r\n\r\n')
      got = await r
      assert.match(got.detail, /^TLS handshake with 127\.0\.0\.1:\d+ failed: the client sent plain HTTP \(ws:\/\/ to a TLS port\? it should connect with wss:\/\/\)$/)

      r = nextRejection(b)
      await untrustingClient(port)
      got = await r
      // The client is gone by then: its address comes from what was read at accept.
      assert.match(got.detail, /^TLS handshake with 127\.0\.0\.1:\d+ failed: the client closed the connection during the handshake \(often because it does not trust this certificate/)
      // Each failure counted once, as tls (https also reports each as a bad HTTP request).
      const stats = b.broker.listenerTable.get(id)!.stats
      assert.deepEqual([stats.rejected.tls, stats.rejected.http], [3, 0])
    })
  }

  it('wss: bad HTTP after the handshake is counted once, as http, and the socket closed though the client never closes its side', async () => {
    b = await startBroker({limits: {connectTimeoutMs: 300}})
    const rejected: string[] = []
    b.broker.on('rejected', (_listener: string, reason: string) => rejected.push(reason))
    const s = tls.connect({port: b.ports.wss, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false}, () => s.write('GARBAGE\r\n\r\n'))
    s.on('error', () => {})
    // The client never reads or ends its side. Past the handshake deadline, the broker must
    // have closed the socket after its 400, not counted the same client again as a timeout.
    await new Promise((resolve) => setTimeout(resolve, 800))
    s.destroy()
    assert.deepEqual(rejected, ['http'])
  })

  it('mosquitto_pub without the CA: the broker names the client and the missing trust', async function () {
    if (spawnSync('mosquitto_pub', ['--help']).error !== undefined) {
      // eslint-disable-next-line no-console
      console.log('      (skipped: no mosquitto_pub on this machine; Debian: apt-get install mosquitto-clients)')
      this.skip()
    }
    b = await startBroker({})
    const r = nextRejection(b)
    const child = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(b.ports.mqtts), '--capath', '/nonexistent-ca-dir', '-t', 't', '-m', 'x'], {stdio: 'ignore'})
    const [got] = await Promise.all([r, new Promise((resolve) => child.on('close', resolve))])
    assert.match(got.detail, /^TLS handshake with 127\.0\.0\.1:\d+ failed: the client (closed the connection during the handshake|does not trust this certificate)/)
  })

  it('an unknown OpenSSL error keeps its reason, without OpenSSL\'s internals', () => {
    const error = Object.assign(new Error('80EC1A2B3C7F0000:error:0A0000C1:SSL routines:tls_post_process_client_hello:no shared cipher:../deps/openssl/openssl/ssl/statem/statem_srvr.c:2220:\n'), {code: 'ERR_SSL_SOMETHING_NEW'})
    assert.equal(tlsFailureReason(error), 'no shared cipher')
    assert.equal(tlsFailureReason(Object.assign(new Error('TLS handshake timeout'), {code: 'ERR_TLS_HANDSHAKE_TIMEOUT'})), 'TLS handshake timeout')
  })
})
