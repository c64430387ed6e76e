/** The admin API over real HTTP on 127.0.0.1, against a real broker with real clients. */
import assert from 'node:assert/strict'
import net from 'node:net'
import {Broker} from '../../../src/core/broker/broker.js'
import {resolveConfig} from '../../../src/core/config.js'
import {startAdmin} from '../../../src/core/admin/server.js'
import type {AdminServer} from '../../../src/core/admin/server.js'
import {connectMqttJs, nextMessages} from '../../helpers/mqttjs.js'
import {mqtt as wire, pingBarrier, tryUpgrade, wireConnect} from '../../helpers/ws-wire.js'

const TOKEN = 'test-token-0123456789'

interface Reply {
  status: number
  body: any
}

describe('admin API', function () {
  let broker: Broker
  let admin: AdminServer

  async function api(method: string, path: string, body?: unknown, token: string | null = TOKEN, raw?: string): Promise<Reply> {
    const res = await fetch(`${admin.url}${path}`, {
      method,
      headers: {...(token === null ? {} : {Authorization: `Bearer ${token}`}), 'Content-Type': 'application/json'},
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    })
    return {status: res.status, body: await res.json()}
  }

  function portOf(id: string): number {
    return broker.listenerStatus(id).port
  }

  beforeEach(async () => {
    broker = new Broker(resolveConfig({listeners: ['mqtt://127.0.0.1:0', 'ws://127.0.0.1:0/mqtt']}))
    await broker.listen()
    admin = await startAdmin(broker, {host: '127.0.0.1', port: 0, token: TOKEN})
  })

  afterEach(async () => {
    await admin.close()
    await broker.close()
  })

  describe('token', () => {
    it('answers 401 without a token and with a wrong one, 200 with the right one', async () => {
      const none = await api('GET', '/api/v1/listeners', undefined, null)
      assert.equal(none.status, 401)
      assert.match(none.body.error.message, /Authorization: Bearer/)
      const wrong = await api('GET', '/api/v1/listeners', undefined, 'not-the-token')
      assert.equal(wrong.status, 401)
      assert.match(wrong.body.error.message, /token is wrong/)
      const ok = await api('GET', '/api/v1/listeners')
      assert.equal(ok.status, 200)
    })
  })

  describe('reading', () => {
    it('lists listeners with state, counters and totals, and shows one', async () => {
      const list = await api('GET', '/api/v1/listeners')
      assert.deepEqual(list.body.listeners.map((l: any) => [l.id, l.state]), [['mqtt:0', 'running'], ['ws:0', 'running']])
      assert.equal(list.body.totals.listeners, 2)
      assert.equal(list.body.totals.running, 2)
      const one = await api('GET', '/api/v1/listeners/ws%3A0')
      assert.equal(one.status, 200)
      assert.equal(one.body.url, `ws://127.0.0.1:${portOf('ws:0')}/mqtt`)
      assert.equal(one.body.connections.rejected.path, 0)
      const stats = await api('GET', '/api/v1/stats')
      assert.equal(stats.status, 200)
      assert.equal(stats.body.listeners, 2)
      assert.equal(typeof stats.body.metrics.queueDropped, 'number')
    })

    it('answers 404 for an unknown listener or route and 405 for a wrong method', async () => {
      const unknown = await api('GET', '/api/v1/listeners/nope')
      assert.equal(unknown.status, 404)
      assert.match(unknown.body.error.message, /no listener "nope": the listeners are mqtt:0, ws:0/)
      assert.equal((await api('POST', '/api/v1/listeners/nope/stop')).status, 404)
      assert.equal((await api('GET', '/api/v2/whatever')).status, 404)
      assert.equal((await api('POST', '/api/v1/listeners/ws%3A0/explode')).status, 404)
      const method = await api('DELETE', '/api/v1/listeners')
      assert.equal(method.status, 405)
      assert.match(method.body.error.message, /takes GET, POST/)
      assert.equal((await api('GET', '/api/v1/listeners/ws%3A0/stop')).status, 405)
    })
  })

  describe('creating', () => {
    it('refuses bad bodies with 400 naming the problem, and the broker keeps running', async () => {
      const badJson = await api('POST', '/api/v1/listeners', undefined, TOKEN, '{"url": ')
      assert.equal(badJson.status, 400)
      assert.match(badJson.body.error.message, /not JSON/)
      const noUrl = await api('POST', '/api/v1/listeners', {id: 'x'})
      assert.equal(noUrl.status, 400)
      assert.match(noUrl.body.error.message, /missing "url"/)
      const badUrl = await api('POST', '/api/v1/listeners', {url: 'gopher://127.0.0.1:1'})
      assert.equal(badUrl.status, 400)
      assert.match(badUrl.body.error.message, /unknown scheme "gopher:"/)
      const wss = await api('POST', '/api/v1/listeners', {url: 'wss://127.0.0.1:0/mqtt'})
      assert.equal(wss.status, 400)
      assert.match(wss.body.error.message, /needs a certificate and key/)
      const dupId = await api('POST', '/api/v1/listeners', {url: 'mqtt://127.0.0.1:0', id: 'ws:0'})
      assert.equal(dupId.status, 400)
      assert.match(dupId.body.error.message, /id "ws:0" exists already/)
      const badOpt = await api('POST', '/api/v1/listeners', {url: 'ws://127.0.0.1:0', ws: {piggyback: 'yes'}})
      assert.equal(badOpt.status, 400)
      assert.match(badOpt.body.error.message, /piggyback/)
      assert.equal((await api('GET', '/api/v1/listeners')).body.listeners.length, 2)
    })

    it('answers 409 when the port is in use', async () => {
      const blocker = net.createServer()
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
      const port = (blocker.address() as net.AddressInfo).port
      try {
        const res = await api('POST', '/api/v1/listeners', {url: `mqtt://127.0.0.1:${port}`})
        assert.equal(res.status, 409, JSON.stringify(res.body))
        assert.match(res.body.error.message, new RegExp(`port ${port} is in use`))
        assert.equal((await api('GET', '/api/v1/listeners/mqtt%3A' + port)).status, 404)
        const same = await api('POST', '/api/v1/listeners', {url: `ws://127.0.0.1:${portOf('ws:0')}/x`})
        assert.equal(same.status, 400)
        assert.match(same.body.error.message, /already binds/)
      } finally {
        blocker.close()
      }
    })

    it('adds a WebSocket listener at runtime that accepts an MQTT.js client', async () => {
      const res = await api('POST', '/api/v1/listeners', {url: 'ws://127.0.0.1:0/live', id: 'live'})
      assert.equal(res.status, 201)
      assert.equal(res.body.state, 'running')
      assert.match(res.body.url, /^ws:\/\/127\.0\.0\.1:\d+\/live$/)
      const sub = await connectMqttJs(`mqtt://127.0.0.1:${portOf('mqtt:0')}`)
      const pub = await connectMqttJs(res.body.url)
      try {
        await sub.subscribeAsync('live/t')
        const got = nextMessages(sub, 1)
        await pub.publishAsync('live/t', 'hello')
        assert.equal((await got)[0].payload.toString(), 'hello')
        assert.equal((await api('GET', '/api/v1/listeners/live')).body.connections.current, 1)
      } finally {
        pub.end(true)
        sub.end(true)
      }
      const stopped = await api('POST', '/api/v1/listeners', {url: 'mqtt://127.0.0.1:0', id: 'later', start: false})
      assert.equal(stopped.status, 201)
      assert.equal(stopped.body.state, 'stopped')
    })
  })

  describe('stop, start, restart, update, delete', () => {
    it('stopping disconnects its clients (MQTT 5: DISCONNECT 0x8B) and leaves other listeners working', async () => {
      const wsUrl = broker.listenerStatus('ws:0').url
      const victim = await connectMqttJs(wsUrl, {protocolVersion: 5})
      const sub = await connectMqttJs(`mqtt://127.0.0.1:${portOf('mqtt:0')}`)
      const pub = await connectMqttJs(`mqtt://127.0.0.1:${portOf('mqtt:0')}`, {protocolVersion: 5})
      try {
        const disconnect = new Promise<number | undefined>((resolve) => victim.once('disconnect', (p) => resolve(p.reasonCode)))
        const closed = new Promise<void>((resolve) => victim.once('close', () => resolve()))
        const res = await api('POST', '/api/v1/listeners/ws%3A0/stop')
        assert.equal(res.status, 200)
        assert.equal(res.body.state, 'stopped')
        assert.equal(await disconnect, 0x8b)
        await closed
        assert.equal(res.body.connections.current, 0)
        // Nothing listens there any more.
        await assert.rejects(connectMqttJs(wsUrl))
        // The other listener is untouched.
        await sub.subscribeAsync('other/t')
        const got = nextMessages(sub, 1)
        await pub.publishAsync('other/t', 'still here')
        assert.equal((await got)[0].payload.toString(), 'still here')

        assert.equal((await api('POST', '/api/v1/listeners/ws%3A0/stop')).status, 409)
        const started = await api('POST', '/api/v1/listeners/ws%3A0/start')
        assert.equal(started.status, 200)
        assert.equal(started.body.state, 'running')
        assert.equal(started.body.url, wsUrl, 'a port-0 listener comes back on its port')
        assert.equal((await api('POST', '/api/v1/listeners/ws%3A0/start')).status, 409)
        const again = await connectMqttJs(wsUrl)
        const restartClosed = new Promise<void>((resolve) => again.once('close', () => resolve()))
        const restarted = await api('POST', '/api/v1/listeners/ws%3A0/restart')
        assert.equal(restarted.status, 200)
        assert.equal(restarted.body.state, 'running')
        await restartClosed
        const third = await connectMqttJs(wsUrl)
        third.end(true)
      } finally {
        victim.end(true)
        sub.end(true)
        pub.end(true)
      }
    })

    it('updates options (restarting a running listener) and deletes', async () => {
      const bad = await api('PATCH', '/api/v1/listeners/ws%3A0', {ws: {path: 'nope'}})
      assert.equal(bad.status, 400)
      assert.match(bad.body.error.message, /starts with \//)
      const unknownKey = await api('PATCH', '/api/v1/listeners/ws%3A0', {colour: 'red'})
      assert.equal(unknownKey.status, 400)
      const res = await api('PATCH', '/api/v1/listeners/ws%3A0', {ws: {path: '/other'}})
      assert.equal(res.status, 200)
      assert.equal(res.body.path, '/other')
      assert.equal(res.body.state, 'running')
      const port = portOf('ws:0')
      assert.equal((await tryUpgrade({port, path: '/mqtt'})).response.status, 404)
      const ws = await wireConnect({port, path: '/other'})
      ws.destroy()
      const del = await api('DELETE', '/api/v1/listeners/ws%3A0')
      assert.equal(del.status, 200)
      assert.equal((await api('GET', '/api/v1/listeners/ws%3A0')).status, 404)
      assert.equal(broker.servers.length, 1)
    })
  })

  describe('statistics', () => {
    it('counts bytes, frames, packets and messages exactly after a known WebSocket exchange', async () => {
      const created = await api('POST', '/api/v1/listeners', {url: 'ws://127.0.0.1:0/mqtt', id: 'stats'})
      const port = created.body.port
      const ws = await wireConnect({port})
      try {
        ws.sendBinary(wire.connect('stats-client'))
        await ws.waitDataFrames(1)
        ws.sendBinary(wire.subscribe(1, 's/t'))
        await ws.waitDataFrames(2)
        const N = 5
        const payload = Buffer.alloc(100, 0x61)
        for (let i = 0; i < N; i++) ws.sendBinary(wire.publish('s/t', payload))
        await ws.waitDataFrames(2 + N)
        await pingBarrier(ws)
        const s = (await api('GET', '/api/v1/listeners/stats')).body
        // Client to broker: CONNECT, SUBSCRIBE, N PUBLISH, PINGREQ; back: CONNACK, SUBACK, N PUBLISH, PINGRESP.
        assert.deepEqual(s.packets, {in: N + 3, out: N + 3})
        assert.deepEqual(s.wsFrames, {in: N + 3, out: N + 3})
        assert.equal(ws.dataFrames.length, N + 3)
        assert.deepEqual(s.messages, {published: N, delivered: N})
        assert.deepEqual(s.bytes, {in: ws.socket.bytesWritten, out: ws.socket.bytesRead})
        assert.deepEqual(s.connections.current, 1)
        assert.equal(s.connections.accepted, 1)
        const totals = (await api('GET', '/api/v1/stats')).body
        assert.equal(totals.messages.published, N)
        assert.equal(totals.bytes.in, ws.socket.bytesWritten)
      } finally {
        ws.destroy()
      }
    })

    it('counts a wrong-path handshake as a 404 reject and a missing subprotocol as a 400 reject', async () => {
      const port = portOf('ws:0')
      assert.equal((await tryUpgrade({port, path: '/wrong'})).response.status, 404)
      assert.equal((await tryUpgrade({port, protocol: null})).response.status, 400)
      const s = (await api('GET', '/api/v1/listeners/ws%3A0')).body
      assert.equal(s.connections.rejected.path, 1)
      assert.equal(s.connections.rejected.subprotocol, 1)
      assert.equal(s.connections.rejectedTotal, 2)
      assert.equal(s.connections.accepted, 0)
    })

    it('counts origin (403) and malformed CONNECT rejects', async () => {
      const created = await api('POST', '/api/v1/listeners', {url: 'ws://127.0.0.1:0/mqtt', id: 'o', ws: {origins: ['http://good.example']}})
      const port = created.body.port
      assert.equal((await tryUpgrade({port, headers: ['Origin: http://evil.example']})).response.status, 403)
      const ok = await wireConnect({port, headers: ['Origin: http://good.example']})
      ok.sendBinary(Buffer.from([0x10, 0x03, 0x00, 0x01, 0x00]))
      await ok.waitClosed()
      const s = (await api('GET', '/api/v1/listeners/o')).body
      assert.equal(s.connections.rejected.origin, 1)
      assert.equal(s.connections.rejected['malformed-connect'], 1)
    })
  })
})
