/**
 * Every way connecting can fail, and the message the user gets: a refused port, TLS
 * (untrusted certificate, wrong host name, a plain port), WebSocket handshakes answered
 * 404/400/403/200, a WebSocket to a plain MQTT port, a silent server, a CONNACK refusal
 * (MQTT 3.1.1 and 5). Plus the WebSocket extras: custom headers and the subprotocol offer.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type {AddressInfo, Socket} from 'node:net'
import tls from 'node:tls'
import type {IConnectPacket} from 'mqtt-packet'
import {MqttClient} from '../../../src/core/client/client.js'
import {parseUrl} from '../../../src/core/client/options.js'
import type {ClientOptions} from '../../../src/core/client/types.js'
import {ErrorCode, MqttwsError, RefusedError, TimeoutError, TransportError} from '../../../src/core/errors.js'
import {generateDevCertificate} from '../../../src/core/tls/dev-cert.js'
import {dial, handshakeError, schemeOf} from '../../../src/core/transport/dial.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {testCertificate} from '../../helpers/certs.js'
import {closedPort} from '../../helpers/ports.js'
import {connackBytes, startFakeBroker} from './fake-broker.js'
import type {FakeBroker} from './fake-broker.js'

type Server = net.Server | http.Server

async function listen<S extends Server>(server: S): Promise<{server: S; port: number}> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {server, port: (server.address() as AddressInfo).port}
}

/** An HTTP server that answers every request, upgrade or not, with `status` and `body`. */
function answering(status: number, body: string): http.Server {
  const server = http.createServer((_req, res) => res.writeHead(status, {'content-type': 'text/plain'}).end(body))
  server.on('upgrade', (_req, socket: Socket) => {
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  })
  return server
}

/** Rejects as `connect` should, and returns the error for more checks. */
async function connectError(o: ClientOptions): Promise<MqttwsError> {
  let caught: unknown
  try {
    const c = await MqttClient.connect({connectTimeoutMs: 5000, ...o})
    c.destroy()
  } catch (error) {
    caught = error
  }
  assert.ok(caught instanceof MqttwsError, `expected an MqttwsError, got ${String(caught)}`)
  return caught
}

describe('dial and connect: errors a user can act on', function () {
  let tb: TestBroker
  let ca: string
  const servers: Server[] = []
  let fake: FakeBroker | undefined

  async function serve<S extends Server>(server: S): Promise<number> {
    servers.push(server)
    return (await listen(server)).port
  }

  before(async () => {
    tb = await startBroker()
    ca = (await testCertificate()).cert
  })
  afterEach(async () => {
    await fake?.close()
    fake = undefined
    for (const s of servers.splice(0)) {
      ;(s as http.Server).closeAllConnections?.()
      s.close()
    }
  })
  after(async () => {
    await tb?.close()
  })

  describe('TCP', function () {
    it('a refused port: ECONNREFUSED, and what to check', async function () {
      const port = await closedPort()
      for (const scheme of ['mqtt', 'ws'] as const) {
        const e = await connectError({url: `${scheme}://127.0.0.1:${port}`})
        assert.ok(e instanceof TransportError)
        assert.equal(e.code, ErrorCode.TRANSPORT)
        assert.match(e.message, /connection refused \(ECONNREFUSED\): no broker is listening there; check the host and port, or start one with `mqttws serve`/)
        assert.match(e.message, new RegExp(`^${scheme}://127\\.0\\.0\\.1:${port}`))
      }
    })

    it('an unknown scheme or a non-URL is a configuration error', async function () {
      assert.throws(() => schemeOf(new URL('http://127.0.0.1:1')), (e: MqttwsError) => e.code === ErrorCode.CONFIG && /unknown scheme "http:"/.test(e.message))
      // "localhost:1883" parses as a URL with the scheme "localhost:": dial names the scheme.
      await assert.rejects(MqttClient.connect({url: 'localhost:1883'}), /unknown scheme "localhost:" — use mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//)
      assert.throws(() => parseUrl('not a url'), (e: MqttwsError) => e.code === ErrorCode.CONFIG && /write it as mqtt:\/\/HOST:PORT/.test(e.message))
    })

    it('tcp://, ssl:// and tls:// are accepted spellings of mqtt:// and mqtts://', function () {
      assert.equal(schemeOf(new URL('tcp://h:1')), 'mqtt')
      assert.equal(schemeOf(new URL('ssl://h:1')), 'mqtts')
      assert.equal(schemeOf(new URL('tls://h:1')), 'mqtts')
    })
  })

  describe('TLS', function () {
    it('an untrusted (self-signed) certificate: the reason, and --cafile or --insecure', async function () {
      for (const scheme of ['mqtts', 'wss'] as const) {
        const e = await connectError({url: tb.urls[scheme]})
        assert.match(e.message, /TLS failed: self[- ]signed certificate — the server certificate is not trusted: pass its CA with --cafile, or --insecure for a development broker/)
      }
    })

    it('the same broker works with its CA, or with insecure', async function () {
      for (const tlsOptions of [{ca}, {insecure: true}]) {
        for (const scheme of ['mqtts', 'wss'] as const) {
          const c = await MqttClient.connect({url: tb.urls[scheme], dial: {tls: tlsOptions}})
          await c.end()
        }
      }
    })

    it('a certificate for another host name: connect by that name, or --insecure', async function () {
      const other = await generateDevCertificate(['broker.example'], 1)
      const port = await serve(tls.createServer({cert: other.cert, key: other.key}, (s) => s.end()))
      const e = await connectError({url: `mqtts://127.0.0.1:${port}`, dial: {tls: {ca: other.cert}}})
      assert.match(e.message, /TLS failed: .*— the certificate is for another host name: connect by that name, or pass --insecure/)
    })

    it('TLS to a plain port: "does not speak TLS", without OpenSSL internals', async function () {
      // A plain HTTP server answers the TLS ClientHello with "400 Bad Request": not a TLS record.
      const port = await serve(http.createServer((_req, res) => res.end()))
      for (const scheme of ['mqtts', 'wss'] as const) {
        const e = await connectError({url: `${scheme}://127.0.0.1:${port}/mqtt`})
        assert.match(e.message, /TLS failed: wrong version number — the port does not speak TLS: use mqtt:\/\/ or ws:\/\/ for a plain port$/)
        assert.doesNotMatch(e.message, /ssl3_get_record|\n/)
      }
      // The mqttws broker's WS port is such a plain HTTP port.
      const e = await connectError({url: tb.urls.ws.replace('ws:', 'wss:')})
      assert.match(e.message, /does not speak TLS/)
    })

    it('TLS to a plain MQTT port that hangs up: asks whether the port serves TLS', async function () {
      const e = await connectError({url: `mqtts://127.0.0.1:${tb.ports.mqtt}`})
      assert.match(e.message, /the connection was reset \(ECONNRESET\): is this port serving TLS\?|does not speak TLS|socket disconnected/)
    })
  })

  describe('WebSocket handshake', function () {
    it('404 from the mqttws broker: its body names the right path', async function () {
      const e = await connectError({url: `ws://127.0.0.1:${tb.ports.ws}/nope`})
      assert.equal(e.message, `ws://127.0.0.1:${tb.ports.ws}/nope answered 404: this broker serves MQTT over WebSocket on /mqtt, not on /nope`)
    })

    it('404 from another server: the status, its body, and a hint at the path', async function () {
      const port = await serve(answering(404, 'Not Found'))
      const e = await connectError({url: `ws://127.0.0.1:${port}/x`})
      assert.equal(e.message, `ws://127.0.0.1:${port}/x answered 404: Not Found: check the path (most brokers serve MQTT on /mqtt)`)
    })

    it('400 for the subprotocol: the mqttws broker lists what it accepts; another server gets a hint', async function () {
      const e = await connectError({url: tb.urls.ws, dial: {subprotocols: ['foo']}})
      assert.match(e.message, /answered 400: none of the offered subprotocols \(foo\) is supported: offer one of mqtt/)
      const port = await serve(answering(400, ''))
      const e2 = await connectError({url: `ws://127.0.0.1:${port}/mqtt`, dial: {subprotocols: ['foo']}})
      assert.equal(e2.message, `ws://127.0.0.1:${port}/mqtt answered 400: check the subprotocol (offered foo; brokers accept mqtt or mqttv3.1)`)
    })

    it('403: the status and what to check (credentials, headers, Origin)', async function () {
      const port = await serve(answering(403, 'Forbidden'))
      const e = await connectError({url: `ws://127.0.0.1:${port}/mqtt`})
      assert.ok(e instanceof TransportError)
      assert.equal(e.message, `ws://127.0.0.1:${port}/mqtt answered 403: Forbidden: the broker refused the handshake (check credentials, headers and Origin)`)
    })

    it('200 from a plain web server: not a WebSocket endpoint', async function () {
      const port = await serve(answering(200, 'hello'))
      const e = await connectError({url: `ws://127.0.0.1:${port}/mqtt`})
      assert.match(e.message, /answered 200: hello: a web server, not a WebSocket endpoint: check the port and path$/)
    })

    it('a WebSocket to a plain MQTT port: "use mqtt://"', async function () {
      const e = await connectError({url: `ws://127.0.0.1:${tb.ports.mqtt}/mqtt`})
      assert.match(e.message, /the server closed the connection during the WebSocket handshake: is this a plain MQTT port \(use mqtt:\/\/\) or a TLS port \(use wss:\/\/\)\?|did not answer with HTTP/)
    })

    it('a WebSocket to a server that answers bytes that are not HTTP', async function () {
      const port = await serve(net.createServer((s) => s.once('data', () => s.end(Buffer.from([0x20, 0x02, 0x00, 0x00])))))
      const e = await connectError({url: `ws://127.0.0.1:${port}/mqtt`})
      assert.match(e.message, /the server did not answer with HTTP .*: is this an MQTT TCP port\? use mqtt:\/\/ for it/)
    })

    it('a WebSocket to a TLS port: suggests wss://', async function () {
      const e = await connectError({url: `ws://127.0.0.1:${tb.ports.wss}/mqtt`})
      assert.match(e.message, /or a TLS port \(use wss:\/\/\)|did not answer with HTTP/)
    })

    it('a server that picks a subprotocol not offered: suggests --ws-subprotocol', async function () {
      const cert = await testCertificate()
      const server = https.createServer({cert: cert.cert, key: cert.key})
      server.on('upgrade', (req, socket: Socket) => {
        const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: mqttv3.1\r\n\r\n`)
      })
      const port = await serve(server)
      const e = await connectError({url: `wss://127.0.0.1:${port}/mqtt`, dial: {tls: {ca}}})
      assert.match(e.message, /the server did not accept subprotocol mqtt \(Server sent an invalid subprotocol\): try --ws-subprotocol mqttv3\.1 or mqtt/)
    })

    it('sends custom headers and the subprotocols asked for; no path means /mqtt', async function () {
      fake = await startFakeBroker({ws: true, onConnect: (c) => c.send(connackBytes(4))})
      const url = fake.url.replace('/mqtt', '')
      const c = await MqttClient.connect({url, protocolVersion: 4, dial: {headers: {Authorization: 'Bearer abc', 'X-Trace': '1'}, subprotocols: ['mqttv3.1', 'mqtt']}})
      assert.equal(c.subprotocol, 'mqttv3.1')
      await c.end()
      const [h] = fake.handshakes
      assert.equal(h.authorization, 'Bearer abc')
      assert.equal(h['x-trace'], '1')
      assert.equal(h['sec-websocket-protocol'], 'mqttv3.1,mqtt')
      assert.equal(h['sec-websocket-extensions'], undefined, 'no permessage-deflate offer')
    })

    it('handshakeError keeps a broker body that already explains, and adds a hint otherwise', function () {
      assert.equal(handshakeError('ws://h/x', 404, 'no MQTT on /x, try /mqtt', ['mqtt']).message, 'ws://h/x answered 404: no MQTT on /x, try /mqtt')
      assert.equal(handshakeError('ws://h/x', 426, '', ['mqtt']).message, 'ws://h/x answered 426: the server wants a WebSocket upgrade')
      assert.equal(handshakeError('ws://h/x', 401, 'first line\nsecond', ['mqtt']).message, 'ws://h/x answered 401: first line: the broker refused the handshake (check credentials, headers and Origin)')
    })
  })

  describe('MQTT handshake', function () {
    it('CONNACK refusal in MQTT 3.1.1: the return code and what it means (RefusedError)', async function () {
      fake = await startFakeBroker({onConnect: (c) => c.send(connackBytes(4, 5))})
      const e = await connectError({url: fake.url, protocolVersion: 4})
      assert.ok(e instanceof RefusedError)
      assert.equal(e.code, ErrorCode.REFUSED)
      assert.equal(e.reasonCode, 5)
      assert.equal(e.message, `${fake.url}: the broker refused the connection: return code 5 (not authorized)`)
    })

    it('CONNACK refusal in MQTT 3.1 (unacceptable protocol version): suggests another -V', async function () {
      fake = await startFakeBroker({onConnect: (c) => c.send(connackBytes(3, 1))})
      const e = await connectError({url: fake.url, protocolVersion: 3})
      assert.match(e.message, /return code 1 \(unacceptable protocol version: try another -V \(3\.1, 3\.1\.1 or 5\)\)/)
    })

    it('CONNACK refusal in MQTT 5: the reason code named, and the reason string', async function () {
      // 0x1F Reason String "members only".
      const reason = Buffer.from('members only')
      const props = Buffer.concat([Buffer.from([0x1f, 0x00, reason.length]), reason])
      fake = await startFakeBroker({onConnect: (c) => c.send(connackBytes(5, 0x87, props))})
      const e = await connectError({url: fake.url, protocolVersion: 5})
      assert.ok(e instanceof RefusedError)
      assert.equal(e.reasonCode, 0x87)
      assert.equal(e.message, `${fake.url}: the broker refused the connection: 0x87 not authorized: members only`)
    })

    it('CONNACK refusal over WebSocket too', async function () {
      fake = await startFakeBroker({ws: true, onConnect: (c) => c.send(connackBytes(5, 0x86))})
      const e = await connectError({url: fake.url, protocolVersion: 5})
      assert.match(e.message, /refused the connection: 0x86 bad user name or password$/)
    })

    it('a server that never answers CONNECT: a TimeoutError asking whether it is an MQTT broker', async function () {
      fake = await startFakeBroker()
      const e = await connectError({url: fake.url, connectTimeoutMs: 300})
      assert.ok(e instanceof TimeoutError)
      assert.match(e.message, /: no CONNACK within \d+ ms: is this an MQTT broker\?$/)
      // And it hung up.
      const [conn] = fake.connections
      await conn.closed
    })

    it('a server that hangs up on CONNECT: check -V, the client id, and the scheme', async function () {
      fake = await startFakeBroker({onConnect: (c) => c.end()})
      const e = await connectError({url: fake.url})
      assert.ok(e instanceof TransportError)
      assert.match(e.message, /the broker closed the connection before CONNACK: check the protocol version \(-V\), the client id, and the scheme \(mqtts:\/\/ or wss:\/\/ for a TLS port\)/)
    })

    it('plain MQTT to a TLS port ends the same way', async function () {
      const e = await connectError({url: `mqtt://127.0.0.1:${tb.ports.mqtts}`})
      assert.match(e.message, /before CONNACK|malformed packet/)
    })

    it('sends CONNECT with the options asked for (3.1: MQIsdp; 5: properties, Will properties)', async function () {
      for (const version of [3, 4, 5] as const) {
        fake = await startFakeBroker({onConnect: (c) => c.send(connackBytes(version))})
        const c = await MqttClient.connect({
          url: fake.url,
          protocolVersion: version,
          clientId: `id-${version}`,
          clean: false,
          keepalive: 42,
          username: 'u',
          password: 'p',
          will: {topic: 'w', payload: 'bye', qos: 1, retain: true, properties: {contentType: 'text/plain'}},
          properties: {sessionExpiryInterval: 99, userProperties: {a: 'b'}},
        })
        await c.end()
        const connect = fake.connections[0].packets[0] as IConnectPacket
        assert.equal(connect.protocolId, version === 3 ? 'MQIsdp' : 'MQTT')
        assert.equal(connect.protocolVersion, version)
        assert.equal(connect.clientId, `id-${version}`)
        assert.equal(connect.clean, false)
        assert.equal(connect.keepalive, 42)
        assert.equal(connect.username, 'u')
        assert.equal(String(connect.password), 'p')
        assert.equal(connect.will?.topic, 'w')
        assert.equal(String(connect.will?.payload), 'bye')
        assert.equal(connect.will?.qos, 1)
        assert.equal(connect.will?.retain, true)
        if (version === 5) {
          assert.deepEqual(JSON.parse(JSON.stringify(connect.properties)), {sessionExpiryInterval: 99, userProperties: {a: 'b'}})
          assert.equal(connect.will?.properties?.contentType, 'text/plain')
        } else {
          assert.equal(connect.properties, undefined)
        }
        // A clean DISCONNECT at the end.
        assert.equal(fake.connections[0].packets.at(-1)?.cmd, 'disconnect')
        await fake.close()
        fake = undefined
      }
    })
  })

  describe('dial() alone', function () {
    it('resolves with the stream, the scheme and the raw socket for each transport', async function () {
      for (const scheme of ['mqtt', 'mqtts', 'ws', 'wss'] as const) {
        const d = await dial(new URL(tb.urls[scheme]), {tls: {ca}})
        assert.equal(d.scheme, scheme)
        // Without countTlsBytes the counters are the raw socket itself (TLSSocket for mqtts and wss).
        assert.ok(d.socket instanceof net.Socket, `${scheme}: a net.Socket`)
        assert.equal(d.socket.remotePort, tb.ports[scheme])
        d.stream.destroy()
      }
    })
  })
})
