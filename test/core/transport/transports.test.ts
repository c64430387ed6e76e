/**
 * The transport table (src/core/transport/transports.ts): each scheme listens and dials on
 * 127.0.0.1 (ephemeral ports) through its Transport, bytes pass both ways, and each
 * listener's Connection carries what the broker needs instead of branching on the scheme:
 * writeMode, onPacketTooLarge (WebSocket), peerCertificate (TLS), request (WebSocket).
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import type {Duplex} from 'node:stream'
import {resolveConfig} from '../../../src/core/config.js'
import type {BrokerConfigInput, ListenerConfig, Scheme} from '../../../src/core/config.js'
import {DEFAULT_PORTS, dial} from '../../../src/core/transport/dial.js'
import {listen} from '../../../src/core/transport/registry.js'
import {TRANSPORTS, loadTransport} from '../../../src/core/transport/transports.js'
import type {Connection, Dialed, ListenHooks, Listener} from '../../../src/core/transport/types.js'
import {testCertificate} from '../../helpers/certs.js'

const SCHEMES: readonly Scheme[] = ['mqtt', 'mqtts', 'ws', 'wss']

async function listenerConfig(scheme: Scheme, input: BrokerConfigInput = {}): Promise<ListenerConfig> {
  const cert = await testCertificate()
  const path = scheme === 'ws' || scheme === 'wss' ? '/mqtt' : ''
  return resolveConfig({listeners: [`${scheme}://127.0.0.1:0${path}`], tls: {cert: cert.cert, key: cert.key}, ...input}).listeners[0]
}

/** Listens, dials and resolves with both ends once the listener handed over the connection. */
async function connect(
  scheme: Scheme,
  input: BrokerConfigInput = {},
  query = '',
): Promise<{listener: Listener; conn: Connection; dialed: Dialed; close: () => Promise<void>}> {
  const cert = await testCertificate()
  let handOver: (c: Connection) => void = () => {}
  const accepted = new Promise<Connection>((resolve) => (handOver = resolve))
  const hooks: ListenHooks = {onConnection: (c) => handOver(c), onRejected: () => {}, maxPacketSize: 1024}
  const listener = await listen(await listenerConfig(scheme, input), hooks)
  const dialed = await dial(new URL(listener.info.url + query), {tls: {ca: cert.cert}, headers: {'x-test': 'yes'}, deflate: input.ws?.deflate === true})
  const conn = await accepted
  return {
    listener,
    conn,
    dialed,
    close: async () => {
      dialed.stream.destroy()
      conn.stream.destroy()
      await listener.close()
    },
  }
}

function nextData(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve) => stream.once('data', (d: Buffer) => resolve(d)))
}

describe('transport table', () => {
  it('has a Transport for every scheme, loaded on demand, with its facts', async () => {
    assert.deepEqual(Object.keys(TRANSPORTS).sort(), [...SCHEMES].sort())
    for (const scheme of SCHEMES) {
      const t = await loadTransport(scheme)
      assert.equal(t.scheme, scheme)
      assert.equal(t.defaultPort, DEFAULT_PORTS[scheme])
      assert.equal(t.secure, scheme === 'mqtts' || scheme === 'wss', `${scheme} secure`)
      assert.equal(t.websocket, scheme === 'ws' || scheme === 'wss', `${scheme} websocket`)
      assert.equal(typeof t.listen, 'function')
      assert.equal(typeof t.dial, 'function')
    }
  })

  for (const scheme of SCHEMES) {
    describe(`${scheme}://`, () => {
      const ws = scheme === 'ws' || scheme === 'wss'
      const secure = scheme === 'mqtts' || scheme === 'wss'

      it('listens on an ephemeral port, dials it, and carries bytes both ways', async () => {
        const {listener, conn, dialed, close} = await connect(scheme)
        try {
          assert.ok(listener.info.port > 0)
          assert.equal(conn.scheme, scheme)
          assert.equal(dialed.scheme, scheme)
          assert.match(conn.remote, /^127\.0\.0\.1:\d+$/)
          assert.ok(conn.socket instanceof net.Socket)
          const inbound = nextData(conn.stream)
          dialed.stream.write(Buffer.from([0xc0, 0x00]))
          assert.deepEqual(await inbound, Buffer.from([0xc0, 0x00]))
          const outbound = nextData(dialed.stream)
          conn.stream.write(Buffer.from([0xd0, 0x00]))
          assert.deepEqual(await outbound, Buffer.from([0xd0, 0x00]))
          if (ws) {
            assert.equal(dialed.subprotocol, 'mqtt')
            // The raw socket comes from the upgrade response, not from ws's private _socket.
            assert.ok(dialed.socket instanceof net.Socket)
          }
        } finally {
          await close()
        }
      })

      it(`sets writeMode ${ws ? "'batch'" : "'concat'"}${ws ? ', onPacketTooLarge and request' : ''}${secure ? ', peerCertificate' : ''}`, async () => {
        const {conn, close} = await connect(scheme, {}, ws ? '?token=abc' : '')
        try {
          assert.equal(conn.writeMode, ws ? 'batch' : 'concat')
          if (ws) {
            assert.equal(typeof (conn.stream as {writePackets?: unknown}).writePackets, 'function')
            assert.deepEqual(conn.request?.url, '/mqtt?token=abc')
            assert.equal(conn.request?.headers['x-test'], 'yes')
            assert.equal((conn.stream as unknown as {closeCode: number}).closeCode, 1000)
            conn.onPacketTooLarge?.()
            assert.equal((conn.stream as unknown as {closeCode: number}).closeCode, 1009)
          } else {
            assert.equal(conn.request, undefined)
            assert.equal(conn.onPacketTooLarge, undefined)
          }
          if (secure) {
            assert.equal(typeof conn.peerCertificate, 'function')
            // The client presented no certificate (the listener does not ask for one).
            assert.equal(conn.peerCertificate?.(), undefined)
          } else {
            assert.equal(conn.peerCertificate, undefined)
          }
        } finally {
          await close()
        }
      })

      if (ws) {
        it("with permessage-deflate: writeMode 'cork', and onPacketTooLarge still makes the close 1009", async () => {
          const {conn, dialed, close} = await connect(scheme, {ws: {deflate: true}})
          try {
            assert.equal(dialed.extensions, 'permessage-deflate')
            assert.equal(conn.writeMode, 'cork')
            assert.equal(conn.request?.url, '/mqtt')
            const closed = new Promise<number>((resolve) => (dialed.stream as unknown as {ws: {once(e: 'close', f: (code: number) => void): void}}).ws.once('close', resolve))
            conn.onPacketTooLarge?.()
            conn.stream.end()
            assert.equal(await closed, 1009)
          } finally {
            await close()
          }
        })

        it('the own stream closes with 1009 after onPacketTooLarge', async () => {
          const {conn, dialed, close} = await connect(scheme)
          try {
            const closed = new Promise<number>((resolve) => (dialed.stream as unknown as {ws: {once(e: 'close', f: (code: number) => void): void}}).ws.once('close', resolve))
            conn.onPacketTooLarge?.()
            conn.stream.end()
            assert.equal(await closed, 1009)
          } finally {
            await close()
          }
        })
      }
    })
  }

  it('a client certificate that verified is what peerCertificate() returns; one that did not counts as none', async function () {
    // A TLS server that asks for client certificates, as a listener with tls.clientCa does;
    // the function reads the socket it is given.
    const {tlsPeerCertificate} = await import('../../../src/core/transport/tls.js')
    const {makeCa, makeClientCert} = await import('../../helpers/auth.js')
    const tls = await import('node:tls')
    const cert = await testCertificate()
    const ca = await makeCa('client CA')
    const clientCert = await makeClientCert('device', ca)
    for (const trusted of [true, false]) {
      const server = tls.createServer({cert: cert.cert, key: cert.key, requestCert: true, rejectUnauthorized: false, ...(trusted ? {ca: ca.cert} : {})})
      const seen = new Promise<Connection>((resolve) =>
        server.on('secureConnection', (socket) => resolve({stream: socket, scheme: 'mqtts', remote: '', socket, peerCertificate: tlsPeerCertificate})),
      )
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const port = (server.address() as net.AddressInfo).port
      const client = tls.connect({host: '127.0.0.1', port, ca: cert.cert, cert: clientCert.cert, key: clientCert.key})
      try {
        const conn = await seen
        const expected = trusted ? new (await import('node:crypto')).X509Certificate(clientCert.cert).fingerprint256 : undefined
        assert.equal(conn.peerCertificate?.()?.fingerprint256, expected)
      } finally {
        client.destroy()
        await new Promise((resolve) => server.close(resolve))
      }
    }
  })
})
