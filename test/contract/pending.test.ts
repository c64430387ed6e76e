/**
 * Fault scenario F3 (reliability.md): sockets that never become MQTT clients. A WebSocket
 * upgrade whose headers stall and a TLS handshake that stalls are closed at the connect
 * timeout, like a socket that never sends CONNECT; and one address cannot hold more than
 * limits.maxPendingPerAddress sockets that have not completed CONNECT (the rest are closed
 * at once and counted as `max-pending`). Outcomes only: closed or served, and the counters.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import tls from 'node:tls'
import type {Scheme} from '../../src/core/config.js'
import type {ListenerStats} from '../../src/core/transport/listener-stats.js'
import type {TestBroker} from '../helpers/broker.js'
import {Tracker, openJs, uid, withBroker, within} from '../helpers/contract.js'

/** A plain TCP socket, or a TLS one for mqtts/wss (handshake done unless the broker closes it). */
function openSocket(tb: TestBroker, scheme: Scheme, sockets: net.Socket[]): Promise<net.Socket> {
  const port = tb.ports[scheme]
  const socket =
    scheme === 'mqtts' || scheme === 'wss' ? tls.connect({port, host: '127.0.0.1', rejectUnauthorized: false}) : net.connect(port, '127.0.0.1')
  sockets.push(socket)
  socket.on('error', () => {})
  return new Promise((resolve) => {
    socket.once(scheme === 'mqtts' || scheme === 'wss' ? 'secureConnect' : 'connect', () => resolve(socket))
    socket.once('close', () => resolve(socket))
  })
}

function closed(socket: net.Socket): Promise<void> {
  return socket.destroyed && socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()))
}

function statsOf(tb: TestBroker, scheme: Scheme): ListenerStats {
  for (const m of tb.broker.listenerTable.values()) if (m.config.scheme === scheme) return m.stats
  throw new Error(`no ${scheme} listener`)
}

/** Waits (bounded) until the broker counts `n` pending sockets from 127.0.0.1 on the listener. */
async function pendingIs(stats: ListenerStats, n: number): Promise<void> {
  for (let i = 0; i < 200 && (stats.pending.get('127.0.0.1') ?? 0) !== n; i++) await new Promise((r) => setTimeout(r, 10))
  assert.equal(stats.pending.get('127.0.0.1') ?? 0, n, 'pending sockets from 127.0.0.1')
}

describe('F3: sockets that never become clients', function () {
  const t = new Tracker()
  const sockets: net.Socket[] = []
  afterEach(() => {
    t.closeAll()
    for (const s of sockets.splice(0)) s.destroy()
  })

  for (const scheme of ['ws', 'wss'] as const) {
    it(`${scheme}: 50 upgrades whose headers stall are all closed at the connect timeout, and counted`, async function () {
      await withBroker(t, {limits: {connectTimeoutMs: 300}}, async (b) => {
        const open = await Promise.all(Array.from({length: 50}, () => openSocket(b, scheme, sockets)))
        for (const s of open) s.write('GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websock')
        await within(Promise.all(open.map(closed)), 10_000, 'every stalled handshake to be closed')
        assert.equal(statsOf(b, scheme).rejected['handshake-timeout'], 50)
        // The listener still serves.
        await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5})
      })
    })
  }

  it('mqtts: a TLS handshake that never starts is closed at the connect timeout', async function () {
    await withBroker(t, {limits: {connectTimeoutMs: 300}}, async (b) => {
      const s = net.connect(b.ports.mqtts, '127.0.0.1')
      sockets.push(s)
      s.on('error', () => {})
      await within(closed(s), 10_000, 'the stalled TLS handshake to be closed')
    })
  })

  for (const scheme of ['mqtt', 'ws', 'mqtts', 'wss'] as const) {
    it(`${scheme}: past maxPendingPerAddress new sockets from that address are closed at once; a client that completes CONNECT frees its place`, async function () {
      await withBroker(t, {limits: {maxPendingPerAddress: 5}}, async (b) => {
        const stats = statsOf(b, scheme)
        const held = await Promise.all(Array.from({length: 5}, () => openSocket(b, scheme, sockets)))
        await pendingIs(stats, 5)
        const extra = await openSocket(b, scheme, sockets)
        await within(closed(extra), 10_000, 'the sixth socket to be closed')
        assert.equal(stats.rejected['max-pending'], 1)
        assert.ok(held.every((s) => !s.destroyed), 'the first five are still open')
        held[0].destroy()
        await pendingIs(stats, 4)
        // Two clients in turn: the first frees its place at CONNACK, so the second gets one too.
        await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 5})
        await pendingIs(stats, 4)
        await openJs(t, b.urls[scheme], {clientId: uid(), protocolVersion: 4})
        await pendingIs(stats, 4)
        assert.equal(stats.rejected['max-pending'], 1, 'no client was refused')
        for (const s of sockets.splice(0)) s.destroy()
      })
    })
  }

  it('maxPendingPerAddress 0: no limit', async function () {
    await withBroker(t, {limits: {maxPendingPerAddress: 0}}, async (b) => {
      const held = await Promise.all(Array.from({length: 80}, () => openSocket(b, 'mqtt', sockets)))
      await openJs(t, b.urls.mqtt, {clientId: uid(), protocolVersion: 5})
      assert.ok(held.every((s) => !s.destroyed))
      assert.equal(statsOf(b, 'mqtt').rejected['max-pending'], 0)
      for (const s of sockets.splice(0)) s.destroy()
    })
  })
})
