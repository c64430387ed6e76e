/**
 * WebSocket framing modes of the client, seen at the wire by a hand-made WebSocket server:
 * `packet` (one binary frame per MQTT packet, the default), `piggyback` (one frame per
 * batch written in one event-loop turn) and `split:N` (every packet cut into frames of at
 * most N bytes). The server reassembles the packets, so the bytes must still add up.
 */
import assert from 'node:assert/strict'
import type {IPublishPacket} from 'mqtt-packet'
import {MqttClient} from '../../../src/core/client/client.js'
import {encodePublish} from '../../../src/core/protocol/encode.js'
import type {WsFraming} from '../../../src/core/transport/ws-stream.js'
import {Opcode} from '../../helpers/ws-wire.js'
import type {WireFrame} from '../../helpers/ws-wire.js'
import {connackBytes, startFakeBroker} from './fake-broker.js'
import type {FakeBroker, FakeConnection} from './fake-broker.js'

const isPublish = (p: {cmd: string}): p is IPublishPacket => p.cmd === 'publish'
const binaryFrames = (conn: FakeConnection): WireFrame[] => conn.frames.filter((f) => f.opcode === Opcode.Binary)

describe('MqttClient WebSocket framing at the wire', function () {
  let fake: FakeBroker
  let client: MqttClient | undefined

  async function connect(framing?: WsFraming): Promise<FakeConnection> {
    fake = await startFakeBroker({ws: true, onConnect: (c) => c.send(connackBytes(4))})
    client = await MqttClient.connect({url: fake.url, protocolVersion: 4, keepalive: 0, dial: framing ? {framing} : {}})
    return fake.nextConnection()
  }

  /** Three QoS 0 PUBLISHes written in one turn, and the bytes each is on the wire. */
  async function publishThree(conn: FakeConnection): Promise<Buffer[]> {
    const payloads = ['first message', 'second', 'third and last']
    for (const p of payloads) client!.publish('frames/t', p)
    await conn.waitFor('3 PUBLISH', () => conn.packets.filter(isPublish).length === 3)
    assert.deepEqual(conn.packets.filter(isPublish).map((p) => String(p.payload)), payloads)
    return payloads.map((p) => encodePublish(4, 'frames/t', Buffer.from(p), 0, false, false, 0, undefined))
  }

  afterEach(async () => {
    client?.destroy()
    client = undefined
    await fake?.close()
  })

  it('packet (default): CONNECT in one frame, then exactly one masked binary frame per PUBLISH', async function () {
    const conn = await connect()
    const [connectFrame] = binaryFrames(conn)
    assert.equal(connectFrame.payload[0], 0x10, 'the first frame is a whole CONNECT')
    assert.equal(connectFrame.payload.length, connectFrame.payload[1] + 2)
    const expected = await publishThree(conn)
    const frames = binaryFrames(conn).slice(1)
    assert.deepEqual(frames.map((f) => f.payload.toString('hex')), expected.map((b) => b.toString('hex')))
    for (const f of frames) {
      assert.equal(f.fin, true)
      assert.equal(f.masked, true)
      assert.equal(f.rsv, 0, 'no compression')
      // 2-byte header + 4-byte mask for a short frame: one packet costs its length + 6 on the wire.
      assert.equal(f.wireLength, f.payload.length + 6)
    }
    assert.equal(conn.frames.filter((f) => f.opcode === Opcode.Continuation || f.opcode === Opcode.Text).length, 0)
  })

  it('packet: a 19-byte PUBLISH is 1 frame and 25 bytes on the wire', async function () {
    const conn = await connect('packet')
    client!.publish('abc', 'hello world!')
    await conn.waitFor('PUBLISH', isPublish)
    const [, frame] = binaryFrames(conn)
    assert.equal(frame.payload.length, 19)
    assert.equal(frame.wireLength, 25)
  })

  it('piggyback: packets written in one turn share one frame', async function () {
    const conn = await connect('piggyback')
    const expected = await publishThree(conn)
    const frames = binaryFrames(conn).slice(1)
    assert.equal(frames.length, 1)
    assert.equal(frames[0].payload.toString('hex'), Buffer.concat(expected).toString('hex'))
  })

  it('piggyback: packets written in different turns still get their own frames', async function () {
    const conn = await connect('piggyback')
    client!.publish('a', '1')
    await conn.waitFor('first', isPublish)
    client!.publish('a', '2')
    await conn.waitFor('second', (p) => isPublish(p) && String(p.payload) === '2')
    assert.equal(binaryFrames(conn).length, 3)
  })

  for (const n of [1, 5, 16]) {
    it(`split:${n}: every packet in frames of at most ${n} bytes, each a whole (FIN) binary message, in order`, async function () {
      const conn = await connect({splitBytes: n})
      const connectFrames = binaryFrames(conn).length
      const expected = await publishThree(conn)
      const frames = binaryFrames(conn).slice(connectFrames)
      const wanted = expected.reduce((sum, b) => sum + Math.ceil(b.length / n), 0)
      assert.equal(frames.length, wanted)
      for (const f of frames) {
        assert.ok(f.payload.length <= n && f.payload.length > 0)
        assert.equal(f.fin, true)
      }
      assert.equal(Buffer.concat(frames.map((f) => f.payload)).toString('hex'), Buffer.concat(expected).toString('hex'))
      // No frame holds the end of one packet and the start of the next.
      let offset = 0
      const boundaries = new Set(expected.map((b) => (offset += b.length)))
      let at = 0
      for (const f of frames) {
        const start = at
        at += f.payload.length
        for (const b of boundaries) assert.ok(!(b > start && b < at), `frame [${start}, ${at}) crosses the packet boundary at ${b}`)
      }
    })
  }

  it('split: the CONNECT is split too, and the server reassembles it', async function () {
    const conn = await connect({splitBytes: 3})
    const connectFrames = binaryFrames(conn)
    assert.ok(connectFrames.length > 3)
    assert.equal(conn.packets[0].cmd, 'connect')
  })
})
