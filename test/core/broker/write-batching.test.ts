/**
 * On TCP a client's packets of one event-loop turn leave as one buffer (Client.flush): the
 * order must be exactly the order they were sent in, also when a DISCONNECT goes out at
 * once behind them, and also past the size up to which they are copied together.
 */
import assert from 'node:assert/strict'
import {Decoder, encode} from '../../../src/core/protocol/codec.js'
import type {Packet} from '../../../src/core/protocol/codec.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {rawTcp, rawWs} from '../../helpers/raw.js'
import type {RawPeer} from '../../helpers/raw.js'

function packetsOf(bytes: Buffer): Packet[] {
  const out: Packet[] = []
  const d = new Decoder({onPacket: (p) => out.push(p), onDecodeError: (m) => assert.fail(m), onPacketTooLarge: () => assert.fail('too large')}, 1e9, 5)
  d.write(bytes)
  return out
}

async function connected(port: number, clientId: string, filter: string): Promise<RawPeer> {
  const peer = await rawTcp(port)
  peer.send(encode({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 0}, 5))
  peer.send(encode({cmd: 'subscribe', messageId: 1, subscriptions: [{topic: filter, qos: 0}]}, 5))
  await peer.waitBytes(4 + 6) // CONNACK (at least 4) and SUBACK (6 in MQTT 5 without properties)
  return peer
}

const publish = (topic: string, payload: string | Buffer): Buffer => encode({cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false}, 5)

describe('broker: one write per turn', () => {
  let broker: TestBroker
  before(async () => {
    broker = await startBroker()
  })
  after(() => broker.close())

  it('sends a turn’s packets in order, and a DISCONNECT written at once after them', async () => {
    const peer = await connected(broker.ports.mqtt, 'batch-order', 'order/#')
    const before = peer.received().length
    // Two PUBLISHes it is subscribed to, then an invalid topic (a wildcard): all in one read.
    peer.send(Buffer.concat([publish('order/a', 'one'), publish('order/b', 'two'), publish('order/+', 'bad')]))
    await peer.closed
    const got = packetsOf(peer.received().subarray(before))
    assert.deepEqual(
      got.map((p) => (p.cmd === 'publish' ? `${p.topic}=${p.payload.toString()}` : `${p.cmd}:${(p as {reasonCode?: number}).reasonCode}`)),
      ['order/a=one', 'order/b=two', 'disconnect:144'],
    )
  })

  it('over WebSocket too: one frame per packet, the DISCONNECT last', async () => {
    const peer = await rawWs(broker.urls.ws)
    peer.send(encode({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'batch-ws', clean: true, keepalive: 0}, 5))
    peer.send(encode({cmd: 'subscribe', messageId: 1, subscriptions: [{topic: 'wsorder/#', qos: 0}]}, 5))
    await peer.waitBytes(4 + 6)
    const before = peer.frames.length
    peer.send(Buffer.concat([publish('wsorder/a', 'one'), publish('wsorder/b', 'two'), publish('wsorder/+', 'bad')]))
    await peer.closed
    const frames = peer.frames.slice(before)
    assert.deepEqual(
      frames.map((f) => packetsOf(f).map((p) => (p.cmd === 'publish' ? `${p.topic}=${p.payload.toString()}` : `${p.cmd}:${(p as {reasonCode?: number}).reasonCode}`))),
      [['wsorder/a=one'], ['wsorder/b=two'], ['disconnect:144']],
    )
  })

  it('delivers 500 small and 100 one-kilobyte messages of one turn intact and in order', async () => {
    const sub = await connected(broker.ports.mqtt, 'batch-sub', 'many/#')
    const pub = await rawTcp(broker.ports.mqtt)
    pub.send(encode({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'batch-pub', clean: true, keepalive: 0}, 5))
    await pub.waitBytes(4)
    const small = Array.from({length: 500}, (_, i) => publish('many/s', String(i)))
    const big = Array.from({length: 100}, (_, i) => publish('many/b', Buffer.alloc(1024, i)))
    const before = sub.received().length
    const expected = Buffer.concat([...small, ...big])
    pub.send(expected) // over 64 KiB: the broker writes these without copying them together
    await sub.waitBytes(before + expected.length, 5000)
    assert.deepEqual(sub.received().subarray(before), expected, 'byte for byte what was published (QoS 0 is forwarded as received)')
    pub.close()
    sub.close()
  })
})
