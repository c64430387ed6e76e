/**
 * Rate limits (issue 13) over real sockets: messages and bytes per second per client (QoS 0
 * over the rate dropped and counted, QoS 1 refused with PUBACK 0x97 on MQTT 5, dropped and
 * counted on 3.1.1, reading paused rather than buffered), and new connections per second per
 * listener (extra sockets closed at once and counted).
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import type {MqttClient} from 'mqtt'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {connectPacket, publishPacket, splitPackets} from '../../helpers/guard.js'
import {connectMqttJs, delay, nextMessages} from '../../helpers/mqttjs.js'
import {rawTcp} from '../../helpers/raw.js'

const PUBACK = 4
const CONNACK = 2

/** PUBACK reason codes by packet id (MQTT 5: byte 3 of the body; absent means 0). */
function pubacks(bytes: Buffer): Map<number, number> {
  const out = new Map<number, number>()
  for (const p of splitPackets(bytes)) if (p.type === PUBACK) out.set(p.body.readUInt16BE(0), p.body.length > 2 ? p.body[2] : 0)
  return out
}

async function waitFor(what: string, check: () => boolean, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return
    await delay(50)
  }
  assert.fail(`waited for ${what}`)
}

describe('guard: message and byte rates over real sockets', function () {
  let b: TestBroker
  let sub: MqttClient | undefined

  afterEach(async () => {
    sub?.end(true)
    sub = undefined
    await b?.close()
  })

  it('MQTT 5: QoS 1 over the message rate gets PUBACK 0x97, and reading pauses instead of refusing the rest', async () => {
    b = await startBroker({limits: {messageRate: 1}})
    const peer = await rawTcp(b.ports.mqtt)
    peer.send(connectPacket(5, 'fast-5'))
    await peer.waitBytes(3)
    assert.equal(splitPackets(peer.received())[0].type, CONNACK)
    // Five QoS 1 PUBLISH in one write: the first passes, the second is over the rate.
    peer.send(Buffer.concat([1, 2, 3, 4, 5].map((id) => publishPacket(5, 'rate/t', 'x', 1, id))))
    await waitFor('five PUBACKs', () => pubacks(peer.received()).size === 5)
    const acks = pubacks(peer.received())
    assert.equal(acks.get(1), 0x10) // accepted (no matching subscribers)
    assert.equal(acks.get(2), 0x97) // Quota exceeded
    // Had reading not paused, 3, 4 and 5 would all have been refused at once with 2.
    const refused = [...acks.values()].filter((c) => c === 0x97).length
    assert.ok(refused < 4, `refused ${refused} of 5: ${[...acks].join(' ')}`)
    assert.ok([3, 4, 5].some((id) => acks.get(id) === 0x10), 'a message after the pause was accepted')
    assert.equal(b.broker.listenerTable.get('mqtt:0')!.stats.rateRefused, refused)
    peer.close()
  })

  it('QoS 0 over the rate is dropped and counted; the subscriber gets the rest', async () => {
    b = await startBroker({limits: {messageRate: 2}})
    sub = await connectMqttJs(b.urls.mqtt, {clientId: 'rate-sub', protocolVersion: 5})
    await sub.subscribeAsync('rate/#')
    const got: string[] = []
    sub.on('message', (_t, p) => got.push(p.toString()))
    const peer = await rawTcp(b.ports.mqtt)
    peer.send(connectPacket(4, 'fast-0'))
    await peer.waitBytes(4)
    peer.send(Buffer.concat([1, 2, 3, 4, 5, 6].map((i) => publishPacket(4, 'rate/t', `m${i}`, 0))))
    const stats = b.broker.listenerTable.get('mqtt:0')!.stats
    await waitFor('every message delivered or dropped', () => got.length + stats.rateDropped === 6)
    assert.ok(stats.rateDropped >= 1, `dropped ${stats.rateDropped}`)
    assert.deepEqual(got.slice(0, 2), ['m1', 'm2'])
    // A publisher over its rate does not slow the others down.
    const other = await connectMqttJs(b.urls.mqtt, {clientId: 'calm', protocolVersion: 5})
    const next = nextMessages(sub, 1)
    other.publish('rate/calm', 'calm')
    assert.equal((await next)[0].payload.toString(), 'calm')
    other.end(true)
    peer.close()
  })

  it('MQTT 3.1.1: QoS 1 over the byte rate is dropped without PUBACK, and counted', async () => {
    b = await startBroker({limits: {byteRate: 100}})
    const peer = await rawTcp(b.ports.mqtt)
    peer.send(connectPacket(4, 'bytes-4'))
    await peer.waitBytes(4)
    peer.send(Buffer.concat([publishPacket(4, 'rate/b', Buffer.alloc(80), 1, 1), publishPacket(4, 'rate/b', Buffer.alloc(80), 1, 2)]))
    const stats = b.broker.listenerTable.get('mqtt:0')!.stats
    await waitFor('one refusal', () => stats.rateRefused === 1)
    await peer.waitBytes(4 + 4)
    const acks = pubacks(peer.received())
    assert.deepEqual([...acks.keys()], [1])
    assert.equal(acks.get(1), 0)
    peer.close()
  })

  it('rates off: a client has no buckets (nothing on the hot path)', async () => {
    b = await startBroker({})
    sub = await connectMqttJs(b.urls.mqtt, {clientId: 'plain', protocolVersion: 5})
    assert.equal(b.broker.clients.get('plain')!.rate, undefined)
  })
})

describe('guard: connection rate per listener over real sockets', function () {
  let b: TestBroker

  after(async () => {
    await b?.close()
  })

  it('closes the new sockets over limits.connectionRate at once, counted, while connected clients carry on', async () => {
    b = await startBroker({limits: {connectionRate: 2}})
    const early = await connectMqttJs(b.urls.ws, {clientId: 'early', protocolVersion: 5})
    const stats = b.broker.listenerTable.get('mqtt:0')!.stats
    const sockets = await Promise.all(
      Array.from({length: 10}, () =>
        new Promise<{socket: net.Socket; closed: Promise<void>}>((resolve) => {
          const socket = net.connect(b.ports.mqtt, '127.0.0.1')
          socket.on('error', () => {})
          const closed = new Promise<void>((r) => socket.once('close', () => r()))
          socket.once('connect', () => resolve({socket, closed}))
        }),
      ),
    )
    await waitFor('refusals counted', () => stats.rejected['connection-rate'] >= 1)
    const refused = stats.rejected['connection-rate']
    assert.ok(refused >= 1 && refused <= 8, `refused ${refused}`)
    // The refused sockets are closed without a word.
    let closedCount = 0
    await Promise.race([Promise.all(sockets.map((s) => s.closed.then(() => closedCount++))), delay(1000)])
    assert.ok(closedCount >= refused)
    for (const s of sockets) s.socket.destroy()
    assert.equal(early.connected, true)
    early.end(true)
  })
})
