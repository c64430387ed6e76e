/**
 * Trusted proxies (issue 13) over real sockets: PROXY protocol v1 and v2 headers (built byte
 * by byte here) on TCP and TLS listeners, X-Forwarded-For and X-Real-IP on WebSocket
 * listeners, believed only from a trusted proxy. The address they give is the connection's
 * `remote`: what bans, logs and the admin API use.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import tls from 'node:tls'
import type {MqttClient} from 'mqtt'
import type {ClientConnection} from '../../../src/core/broker/connection.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {testCertificate} from '../../helpers/certs.js'
import {connectPacket, proxyV2, splitPackets, v2Inet, v2Inet6} from '../../helpers/guard.js'
import {connectMqttJs, delay} from '../../helpers/mqttjs.js'

const CONNACK = 2

interface Peer {
  socket: net.Socket
  data: Buffer[]
  closed: Promise<void>
}

function track(socket: net.Socket): Peer {
  const data: Buffer[] = []
  socket.on('data', (d: Buffer) => data.push(d))
  socket.on('error', () => {})
  return {socket, data, closed: new Promise((resolve) => socket.once('close', () => resolve()))}
}

async function tcp(port: number): Promise<Peer> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.setNoDelay(true)
  return track(socket)
}

/** Resolves with the broker's connection once the client `id` completed CONNECT. */
function connected(b: TestBroker, id: string): Promise<ClientConnection> {
  return new Promise((resolve) => {
    const existing = b.broker.clients.get(id)
    if (existing) return resolve(existing)
    const on = (c: ClientConnection): void => {
      if (c.clientId !== id) return
      b.broker.off('client', on)
      resolve(c)
    }
    b.broker.on('client', on)
  })
}

async function connackOf(p: Peer): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const packets = splitPackets(Buffer.concat(p.data))
    if (packets.length > 0) {
      assert.equal(packets[0].type, CONNACK)
      return packets[0].body[1]
    }
    await delay(20)
  }
  throw new Error('no CONNACK')
}

const V6_SRC = '20010db8000000000000000000000abc'

describe('guard: PROXY protocol from a trusted proxy', function () {
  let b: TestBroker

  before(async () => {
    b = await startBroker({guard: {trustedProxies: ['127.0.0.1']}, bans: [{address: '203.0.113.0/24'}]})
  })

  after(async () => {
    await b.close()
  })

  it('v1 TCP4, header and CONNECT in one write: the header source is the client address', async () => {
    const p = await tcp(b.ports.mqtt)
    const c = connected(b, 'pp-v1')
    p.socket.write(Buffer.concat([Buffer.from('PROXY TCP4 198.51.100.22 127.0.0.1 35646 1883\r\n'), connectPacket(4, 'pp-v1')]))
    assert.equal((await c).remote, '198.51.100.22:35646')
    assert.equal(await connackOf(p), 0)
    p.socket.destroy()
  })

  it('v1 TCP6 with the header split over several writes', async () => {
    const p = await tcp(b.ports.mqtt)
    const c = connected(b, 'pp-v1-6')
    const header = Buffer.from('PROXY TCP6 2001:db8::7 ::1 4000 1883\r\n')
    p.socket.write(header.subarray(0, 7))
    await delay(20)
    p.socket.write(header.subarray(7, 20))
    await delay(20)
    p.socket.write(Buffer.concat([header.subarray(20), connectPacket(5, 'pp-v1-6')]))
    assert.equal((await c).remote, '[2001:db8::7]:4000')
    p.socket.destroy()
  })

  it('v2 PROXY over IPv4 and IPv6, v2 LOCAL (a health check keeps the socket address), byte by byte', async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['pp-v2-4', proxyV2(1, 0x11, v2Inet('198.51.100.9', '127.0.0.1', 50000, 1883)), /^198\.51\.100\.9:50000$/],
      ['pp-v2-6', proxyV2(1, 0x21, v2Inet6(V6_SRC, '00000000000000000000000000000001', 443, 1883)), /^\[2001:db8::abc\]:443$/],
      ['pp-v2-local', proxyV2(0, 0x00, Buffer.alloc(0)), /^127\.0\.0\.1:\d+$/],
    ]
    for (const [id, header, remote] of cases) {
      const p = await tcp(b.ports.mqtt)
      const c = connected(b, id)
      const bytes = Buffer.concat([header, connectPacket(4, id)])
      for (const byte of bytes) p.socket.write(Buffer.from([byte]))
      assert.match((await c).remote, remote, id)
      p.socket.destroy()
    }
  })

  it('a proxied address is what bans use (0x8A for a client behind the proxy in a banned network)', async () => {
    const p = await tcp(b.ports.mqtt)
    p.socket.write(Buffer.concat([proxyV2(1, 0x11, v2Inet('203.0.113.50', '127.0.0.1', 1234, 1883)), connectPacket(5, 'behind-proxy')]))
    assert.equal(await connackOf(p), 0x8a)
    await p.closed
  })

  it('TLS: the PROXY header precedes the TLS handshake', async () => {
    const cert = await testCertificate()
    const raw = await tcp(b.ports.mqtts)
    raw.socket.removeAllListeners('data')
    // The header and the ClientHello may share a segment: write the header, then start TLS at once.
    raw.socket.write(proxyV2(1, 0x11, v2Inet('198.51.100.77', '127.0.0.1', 4242, 8883)))
    const c = connected(b, 'pp-tls')
    const t = tls.connect({socket: raw.socket, ca: cert.cert, servername: 'localhost'})
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', resolve)
      t.once('error', reject)
    })
    t.write(connectPacket(5, 'pp-tls'))
    assert.equal((await c).remote, '198.51.100.77:4242')
    t.destroy()
  })

  it('TLS: a PROXY header in its own segment, and TLS without a header from the trusted proxy', async () => {
    const cert = await testCertificate()
    for (const [id, header] of [['pp-tls-2', Buffer.from('PROXY TCP4 198.51.100.78 127.0.0.1 4243 8883\r\n')], ['pp-tls-none', undefined]] as const) {
      const raw = await tcp(b.ports.mqtts)
      raw.socket.removeAllListeners('data')
      if (header !== undefined) {
        raw.socket.write(header)
        await delay(50)
      }
      const c = connected(b, id)
      const t = tls.connect({socket: raw.socket, ca: cert.cert, servername: 'localhost'})
      await new Promise<void>((resolve, reject) => {
        t.once('secureConnect', resolve)
        t.once('error', reject)
      })
      t.write(connectPacket(4, id))
      assert.match((await c).remote, header === undefined ? /^127\.0\.0\.1:\d+$/ : /^198\.51\.100\.78:4243$/)
      t.destroy()
    }
  })

  it('closes a malformed header from a trusted proxy, counted as proxy', async () => {
    const stats = b.broker.listenerTable.get('mqtt:0')!.stats
    const before = stats.rejected.proxy
    const p = await tcp(b.ports.mqtt)
    p.socket.write('PROXY TCP4 198.51.100.1 nonsense 1 2\r\n')
    await p.closed
    assert.equal(stats.rejected.proxy, before + 1)
    assert.equal(p.data.length, 0)
  })

  it('serves a trusted peer that sends no header with its socket address (proxyProtocol auto)', async () => {
    const c = await connectMqttJs(b.urls.mqtt, {clientId: 'direct', protocolVersion: 5})
    assert.match(b.broker.clients.get('direct')!.remote, /^127\.0\.0\.1:\d+$/)
    c.end(true)
  })
})

describe('guard: PROXY protocol from a peer that is not trusted, and proxyProtocol require', function () {
  let b: TestBroker
  afterEach(async () => b?.close())

  it('closes a PROXY header from an untrusted peer (counted), and serves that peer without one', async () => {
    b = await startBroker({guard: {trustedProxies: ['10.0.0.0/8']}})
    for (const [port, listener] of [[b.ports.mqtt, 'mqtt:0'], [b.ports.mqtts, 'mqtts:0']] as const) {
      const p = await tcp(port)
      p.socket.write(Buffer.concat([Buffer.from('PROXY TCP4 198.51.100.22 127.0.0.1 35646 1883\r\n'), connectPacket(4, 'spoofer')]))
      await p.closed
      assert.equal(b.broker.listenerTable.get(listener)!.stats.rejected.proxy, 1)
    }
    assert.equal(b.broker.clients.has('spoofer'), false)
    const c = await connectMqttJs(b.urls.mqtt, {clientId: 'honest', protocolVersion: 4})
    assert.match(b.broker.clients.get('honest')!.remote, /^127\.0\.0\.1:\d+$/)
    c.end(true)
  })

  it('with proxyProtocol require, a trusted proxy must send a header', async () => {
    b = await startBroker({guard: {trustedProxies: ['127.0.0.0/8'], proxyProtocol: 'require'}})
    const p = await tcp(b.ports.mqtt)
    p.socket.write(connectPacket(4, 'no-header'))
    await p.closed
    assert.equal(b.broker.listenerTable.get('mqtt:0')!.stats.rejected.proxy, 1)
    const q = await tcp(b.ports.mqtt)
    const c = connected(b, 'with-header')
    q.socket.write(Buffer.concat([Buffer.from('PROXY TCP4 192.0.2.1 127.0.0.1 1000 1883\r\n'), connectPacket(4, 'with-header')]))
    assert.equal((await c).remote, '192.0.2.1:1000')
    q.socket.destroy()
  })
})

describe('guard: a trusted proxy is not capped by limits.maxPendingPerAddress', function () {
  let b: TestBroker
  afterEach(async () => b?.close())

  it('holds more half-open sockets from a trusted proxy than the per-address cap, and still caps others', async () => {
    for (const trusted of [true, false]) {
      b = await startBroker({limits: {maxPendingPerAddress: 2}, ...(trusted ? {guard: {trustedProxies: ['127.0.0.1']}} : {})})
      const peers = await Promise.all([1, 2, 3, 4].map(() => tcp(b.ports.mqtt)))
      const stats = b.broker.listenerTable.get('mqtt:0')!.stats
      if (!trusted) await Promise.all(peers.slice(2).map((p) => p.closed))
      else {
        // The fourth socket is served (so the three before it were seen too).
        peers[3].socket.write(connectPacket(4, 'fourth'))
        assert.equal(await connackOf(peers[3]), 0)
      }
      assert.equal(stats.rejected['max-pending'], trusted ? 0 : 2, `trusted: ${trusted}`)
      for (const p of peers) p.socket.destroy()
      await b.close()
    }
  })
})

describe('guard: X-Forwarded-For and X-Real-IP on WebSocket listeners', function () {
  let b: TestBroker
  const clients: MqttClient[] = []
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true)
    await b?.close()
  })

  it('from a trusted proxy: the right-most untrusted hop (ws and wss), X-Real-IP without X-Forwarded-For', async () => {
    b = await startBroker({guard: {trustedProxies: ['127.0.0.1', '10.0.0.0/8']}})
    const cases: Array<[string, Record<string, string>, string]> = [
      ['xff-1', {'X-Forwarded-For': '6.6.6.6, 203.0.113.5, 10.1.1.1'}, '203.0.113.5:0'],
      ['xff-2', {'X-Forwarded-For': '[2001:db8::5]:443'}, '[2001:db8::5]:0'],
      ['xff-3', {'X-Real-IP': '198.51.100.8'}, '198.51.100.8:0'],
    ]
    for (const scheme of ['ws', 'wss'] as const) {
      for (const [id, headers, remote] of cases) {
        const c = await connectMqttJs(b.urls[scheme], {clientId: `${id}-${scheme}`, protocolVersion: 5, wsOptions: {headers}})
        clients.push(c)
        assert.equal(b.broker.clients.get(`${id}-${scheme}`)!.remote, remote, `${id} over ${scheme}`)
      }
    }
  })

  it('from a peer that is not trusted, the headers are ignored', async () => {
    b = await startBroker({guard: {trustedProxies: ['10.0.0.0/8']}})
    const c = await connectMqttJs(b.urls.ws, {clientId: 'forger', protocolVersion: 4, wsOptions: {headers: {'X-Forwarded-For': '203.0.113.5', 'X-Real-IP': '203.0.113.6'}}})
    clients.push(c)
    assert.match(b.broker.clients.get('forger')!.remote, /^127\.0\.0\.1:\d+$/)
  })

  it('without trusted proxies, the headers are ignored too', async () => {
    b = await startBroker({})
    const c = await connectMqttJs(b.urls.ws, {clientId: 'plain', protocolVersion: 4, wsOptions: {headers: {'X-Forwarded-For': '203.0.113.5'}}})
    clients.push(c)
    assert.match(b.broker.clients.get('plain')!.remote, /^127\.0\.0\.1:\d+$/)
  })
})
