/**
 * Random and mutated bytes over real sockets: the broker must close the offending
 * connection and keep serving everyone else. Seeded, bounded, reproducible.
 */
import assert from 'node:assert/strict'
import mqttPacket from 'mqtt-packet'
import {startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'
import {connectMqttJs, nextMessages} from '../helpers/mqttjs.js'
import {prng} from '../helpers/random.js'
import {rawTcp, rawWs} from '../helpers/raw.js'

const CONNECT = mqttPacket.generate({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'fuzz', keepalive: 0})
const VALID = [
  mqttPacket.generate({cmd: 'subscribe', messageId: 1, subscriptions: [{topic: 'f/#', qos: 1}]}, {protocolVersion: 5}),
  mqttPacket.generate({cmd: 'publish', topic: 'f/x', payload: Buffer.from('abc'), qos: 1, messageId: 2, retain: false, dup: false}, {protocolVersion: 5}),
  mqttPacket.generate({cmd: 'pingreq'}),
  mqttPacket.generate({cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['f/#']}, {protocolVersion: 5}),
]

function mutate(rand: () => number, buf: Buffer): Buffer {
  const out = Buffer.from(buf)
  const flips = 1 + Math.floor(rand() * 4)
  for (let i = 0; i < flips; i++) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256)
  return out
}

function randomBytes(rand: () => number, max: number): Buffer {
  const out = Buffer.alloc(1 + Math.floor(rand() * max))
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rand() * 256)
  return out
}

describe('robustness: random and mutated input over real sockets', function () {
  this.timeout(60000)
  let b: TestBroker

  before(async () => {
    b = await startBroker({limits: {connectTimeoutMs: 500}})
  })
  after(async () => {
    await b.close()
  })

  for (const scheme of ['mqtt', 'ws'] as const) {
    it(`${scheme}: 150 connections of garbage never take the broker down`, async () => {
      const seed = 0x5eed + (scheme === 'ws' ? 1 : 0)
      const rand = prng(seed)
      for (let i = 0; i < 150; i++) {
        const peer = scheme === 'mqtt' ? await rawTcp(b.ports.mqtt) : await rawWs(b.urls.ws)
        const kind = i % 3
        const bytes =
          kind === 0
            ? randomBytes(rand, 64)
            : kind === 1
              ? Buffer.concat([CONNECT, mutate(rand, VALID[i % VALID.length])])
              : Buffer.concat([mutate(rand, CONNECT), VALID[i % VALID.length]])
        peer.send(bytes)
        // Either the broker answers or closes; give it a moment, then drop the connection.
        await Promise.race([peer.closed, new Promise((r) => setTimeout(r, 20))])
        peer.close()
      }
      // Everyone else is still served.
      const sub = await connectMqttJs(b.urls[scheme], {protocolVersion: 5})
      const pub = await connectMqttJs(b.urls.mqtt)
      try {
        await sub.subscribeAsync('alive/#')
        const got = nextMessages(sub, 1)
        await pub.publishAsync('alive/check', `seed ${seed}`)
        assert.equal((await got)[0].payload.toString(), `seed ${seed}`)
      } finally {
        await Promise.all([sub.endAsync(), pub.endAsync()])
      }
    })
  }

  it('a declared 100 MB packet is refused from its header, without buffering', async () => {
    const peer = await rawTcp(b.ports.mqtt)
    const before = process.memoryUsage().arrayBuffers
    // A CONNECT header declaring Remaining Length 100,000,000 (varint 80 c2 d7 2f), then 64 KiB of body.
    peer.send(Buffer.from([0x10, 0x80, 0xc2, 0xd7, 0x2f]))
    peer.send(Buffer.alloc(65536, 0x61))
    const closed = await Promise.race([peer.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))])
    assert.equal(closed, true, 'connection closed after the oversized header')
    const grown = process.memoryUsage().arrayBuffers - before
    assert.ok(grown < 16 * 1024 * 1024, `array buffers grew by ${grown} bytes`)
    // The broker forgets the connection too (bounded wait for its close event).
    for (let i = 0; i < 100 && b.broker.connections.size > 0; i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(b.broker.connections.size, 0)
  })
})
