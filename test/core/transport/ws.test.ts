/**
 * The broker's WebSocket rules, tested on real sockets with a hand-written WebSocket
 * client (test/helpers/ws-wire.ts), so that every frame the broker sends is seen as it
 * is on the wire: path, subprotocol, binary-only, any split of packets over frames on the
 * way in, one frame per packet (or per turn, with piggyback) on the way out, maximum
 * payload, and one topic namespace across transports. Each group runs on ws:// and wss://.
 */
import assert from 'node:assert/strict'
import {DEFAULT_SUBPROTOCOLS} from '../../../src/core/config.js'
import type {Auth} from '../../../src/core/broker/auth.js'
import type {BrokerOptions} from '../../../src/core/broker/broker.js'
import type {BrokerConfigInput} from '../../../src/core/config.js'
import type {WsServerStream} from '../../../src/core/transport/ws-server-stream.js'
import {chooseSubprotocol, parseSubprotocols} from '../../../src/core/transport/ws.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {rawTcp} from '../../helpers/raw.js'
import type {RawPeer} from '../../helpers/raw.js'
import {Opcode, encodeFrame, httpExchange, mqtt, pingBarrier, tryUpgrade, wireConnect} from '../../helpers/ws-wire.js'
import type {Endpoint, HttpResponse, WireFrame, WireWs} from '../../helpers/ws-wire.js'

const WS_SCHEMES = ['ws', 'wss'] as const
type WsScheme = (typeof WS_SCHEMES)[number]

const SUPPORTED = DEFAULT_SUBPROTOCOLS.join(', ')

let seq = 0
function uid(prefix: string): string {
  return `${prefix}-${++seq}`
}

// ---- resources: every socket a test opens is destroyed after it (afterEach below) -----------

const open: Array<() => void> = []
function track<T extends WireWs>(ws: T): T {
  open.push(() => ws.destroy())
  return ws
}
function trackTcp(peer: RawPeer): RawPeer {
  open.push(() => peer.close())
  return peer
}

/** Starts a broker for a describe block and closes it after. */
function brokerFor(input?: BrokerConfigInput, options?: (get: () => TestBroker) => BrokerOptions): {get: () => TestBroker} {
  let b: TestBroker | undefined
  const get = (): TestBroker => {
    assert.ok(b, 'broker not started')
    return b
  }
  before(async () => {
    b = await startBroker(input, options?.(get))
  })
  after(async () => {
    for (const destroy of open.splice(0)) destroy()
    await b?.close()
  })
  return {get}
}

function endpoint(b: TestBroker, scheme: WsScheme): Endpoint {
  return {port: b.ports[scheme], tls: scheme === 'wss'}
}

// ---- assertions -------------------------------------------------------------------------

function assertBytes(actual: Buffer, expected: Buffer, message?: string): void {
  assert.equal(actual.toString('hex'), expected.toString('hex'), message)
}

function headerLengthFor(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10
}

/** One complete, unmasked, binary server frame carrying exactly `payload`. */
function assertPacketFrame(frame: WireFrame, payload: Buffer, what: string): void {
  assert.equal(frame.opcode, Opcode.Binary, `${what}: opcode`)
  assert.equal(frame.fin, true, `${what}: FIN`)
  assert.equal(frame.rsv, 0, `${what}: RSV bits (no extension was negotiated)`)
  assert.equal(frame.masked, false, `${what}: server frames are not masked`)
  assertBytes(frame.payload, payload, `${what}: payload`)
  assert.equal(frame.headerLength, headerLengthFor(payload.length), `${what}: header length`)
  assert.equal(frame.wireLength, headerLengthFor(payload.length) + payload.length, `${what}: wire bytes`)
}

/** Everything received on the socket is accounted for by whole frames. */
function assertNothingButFrames(ws: WireWs): void {
  assert.equal(ws.pendingBytes, 0, 'no partial frame left over')
  assert.equal(
    ws.wireBytes,
    ws.frames.reduce((n, f) => n + f.wireLength, 0),
    'wire bytes = sum of frame lengths',
  )
}

function assertHttp(res: HttpResponse, status: number, body: string): void {
  assert.equal(res.status, status, `status; body: ${res.body.toString()}`)
  assert.equal(res.body.toString('utf8'), body)
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  // Content-Length or chunked: either way the body must be complete and exact.
  if (res.headers['content-length'] !== undefined) assert.equal(Number(res.headers['content-length']), Buffer.byteLength(body))
  else assert.equal(res.headers['transfer-encoding'], 'chunked')
  assert.equal(res.body.toString().split('\n').length, 2, 'a one-line body, ending with a newline')
  assert.equal(res.headers['sec-websocket-accept'], undefined)
}

// ---- MQTT over the wire client ----------------------------------------------------------

/** Upgrades, sends CONNECT in one frame and checks that CONNACK arrives as one frame. */
async function wireMqtt(ep: Endpoint, clientId: string, protocol = 'mqtt'): Promise<WireWs> {
  const ws = track(await wireConnect({...ep, protocol}))
  ws.sendBinary(mqtt.connect(clientId))
  const frames = await ws.waitDataFrames(1)
  assertPacketFrame(frames[0], mqtt.connack, 'CONNACK')
  return ws
}

async function wireSubscribe(ws: WireWs, packetId: number, filter: string): Promise<void> {
  const n = ws.dataFrames.length
  ws.sendBinary(mqtt.subscribe(packetId, filter))
  const frames = await ws.waitDataFrames(n + 1)
  assertPacketFrame(frames[n], mqtt.suback(packetId), 'SUBACK')
}

async function tcpMqtt(port: number, useTls: boolean, clientId: string): Promise<RawPeer> {
  const peer = trackTcp(await rawTcp(port, useTls))
  peer.send(mqtt.connect(clientId))
  assertBytes((await peer.waitBytes(4)).subarray(0, 4), mqtt.connack, 'CONNACK over TCP')
  return peer
}

async function tcpSubscribe(peer: RawPeer, packetId: number, filter: string): Promise<void> {
  const n = peer.received().length
  peer.send(mqtt.subscribe(packetId, filter))
  assertBytes((await peer.waitBytes(n + 5)).subarray(n, n + 5), mqtt.suback(packetId), 'SUBACK over TCP')
}

/** A PUBLISH of exactly `size` bytes (size from 5 to 129; one-byte Remaining Length up to 129). */
function publishOfSize(topic: string, size: number): Buffer {
  const payloadLength = size - 2 - 2 - Buffer.byteLength(topic)
  assert.ok(payloadLength >= 0 && size - 2 < 128, `cannot build a ${size}-byte PUBLISH on ${topic}`)
  const p = mqtt.publish(topic, Buffer.alloc(payloadLength, 0x61))
  assert.equal(p.length, size)
  return p
}

/** Splits bytes into pieces of `size` (the last may be shorter). */
function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

// =========================================================================================

describe('transport/ws', () => {
  afterEach(() => {
    for (const destroy of open.splice(0)) destroy()
  })

  describe('parseSubprotocols', () => {
    it('returns nothing for a missing or empty header', () => {
      assert.deepEqual(parseSubprotocols(undefined), [])
      assert.deepEqual(parseSubprotocols(''), [])
      assert.deepEqual(parseSubprotocols(' , ,'), [])
    })

    it('splits a comma-separated list and trims each value, keeping the order', () => {
      assert.deepEqual(parseSubprotocols('mqtt'), ['mqtt'])
      assert.deepEqual(parseSubprotocols('mqtt, mqttv3.1'), ['mqtt', 'mqttv3.1'])
      assert.deepEqual(parseSubprotocols('  foo ,mqttv3.1,,  mqtt-v5 '), ['foo', 'mqttv3.1', 'mqtt-v5'])
    })
  })

  describe('chooseSubprotocol', () => {
    it('returns null when nothing was offered', () => {
      assert.equal(chooseSubprotocol([], DEFAULT_SUBPROTOCOLS), null)
    })

    it('returns false when nothing offered is supported', () => {
      assert.equal(chooseSubprotocol(['foo'], DEFAULT_SUBPROTOCOLS), false)
      assert.equal(chooseSubprotocol(['foo', 'bar', 'mqttv5'], DEFAULT_SUBPROTOCOLS), false)
      assert.equal(chooseSubprotocol(['mqtt'], ['mqtt-custom']), false)
    })

    it('picks the first offered value that is supported, in the client’s order', () => {
      assert.equal(chooseSubprotocol(['mqtt', 'mqttv3.1'], DEFAULT_SUBPROTOCOLS), 'mqtt')
      assert.equal(chooseSubprotocol(['foo', 'mqttv3.1'], DEFAULT_SUBPROTOCOLS), 'mqttv3.1')
      assert.equal(chooseSubprotocol(['mqtt-v5', 'mqtt'], DEFAULT_SUBPROTOCOLS), 'mqtt-v5')
      assert.equal(chooseSubprotocol(['foo', 'mqtt-custom'], ['mqtt', 'mqtt-custom']), 'mqtt-custom')
    })

    it('supports every default subprotocol', () => {
      assert.deepEqual([...DEFAULT_SUBPROTOCOLS], ['mqtt', 'mqttv3.1', 'mqtt-v3', 'mqtt-v3.1.1', 'mqtt-v5'])
      for (const p of DEFAULT_SUBPROTOCOLS) assert.equal(chooseSubprotocol([p], DEFAULT_SUBPROTOCOLS), p)
    })

    it('echoes the client’s own spelling, so that the client recognises its offer', () => {
      assert.equal(chooseSubprotocol(['MQTT'], DEFAULT_SUBPROTOCOLS), 'MQTT')
    })
  })

  for (const scheme of WS_SCHEMES) {
    describe(`${scheme}:// with the default options`, () => {
      const broker = brokerFor()
      const ep = (): Endpoint => endpoint(broker.get(), scheme)

      // ---- 1. path ----

      describe('path', () => {
        it('answers an upgrade on another path with 404 naming the right path', async () => {
          const {response, ws} = await tryUpgrade({...ep(), path: '/other'})
          assert.equal(ws, undefined)
          assertHttp(response, 404, 'this broker serves MQTT over WebSocket on /mqtt, not on /other\n')
        })

        it('does not treat /mqtt/ or /mqtt/x as /mqtt', async () => {
          for (const path of ['/mqtt/', '/mqtt/x', '/MQTT', '/']) {
            const {response} = await tryUpgrade({...ep(), path})
            assertHttp(response, 404, `this broker serves MQTT over WebSocket on /mqtt, not on ${path}\n`)
          }
        })

        it('ignores the query string', async () => {
          const ws = track(await wireConnect({...ep(), path: '/mqtt?client=web'}))
          assert.equal(ws.handshake.status, 101)
          ws.sendBinary(mqtt.connect(uid('query')))
          assertPacketFrame((await ws.waitDataFrames(1))[0], mqtt.connack, 'CONNACK')
        })

        it('answers an upgrade to something other than websocket with 400', async () => {
          const res = await httpExchange(ep(), 'GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n')
          assertHttp(res, 400, 'expected "Upgrade: websocket", got "h2c"\n')
        })

        it('answers a plain GET on another path with 404 naming the right path', async () => {
          const res = await httpExchange(ep(), 'GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
          assertHttp(res, 404, 'this broker serves MQTT over WebSocket on /mqtt, not on /elsewhere\n')
        })

        it('answers a plain GET on the right path with 426 explaining the endpoint', async () => {
          const res = await httpExchange(ep(), 'GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
          assertHttp(
            res,
            426,
            'this is an MQTT over WebSocket endpoint: connect with a WebSocket client (subprotocol "mqtt") to /mqtt\n',
          )
          assert.equal(res.headers.upgrade, 'websocket')
        })
      })

      // ---- 2. subprotocol ----

      describe('subprotocol', () => {
        const cases: Array<[offered: string, echoed: string]> = [
          ['mqtt, mqttv3.1', 'mqtt'],
          ['foo, mqttv3.1', 'mqttv3.1'],
          ['mqtt-v5, mqtt', 'mqtt-v5'],
          ['mqttv3.1,mqtt', 'mqttv3.1'],
          ['foo, bar, mqtt-v3.1.1', 'mqtt-v3.1.1'],
        ]
        for (const [offered, echoed] of cases) {
          it(`offered "${offered}": echoes exactly "${echoed}"`, async () => {
            const ws = track(await wireConnect({...ep(), protocol: offered}))
            assert.equal(ws.handshake.status, 101)
            assert.equal(ws.protocol, echoed)
            // And MQTT works on it.
            ws.sendBinary(mqtt.connect(uid('subproto')))
            assertPacketFrame((await ws.waitDataFrames(1))[0], mqtt.connack, 'CONNACK')
          })
        }

        it('accepts each default subprotocol offered alone', async () => {
          for (const p of DEFAULT_SUBPROTOCOLS) {
            const ws = track(await wireConnect({...ep(), protocol: p}))
            assert.equal(ws.protocol, p)
            ws.destroy()
          }
        })

        it('refuses a client offering no subprotocol with 400 saying why', async () => {
          const {response, ws} = await tryUpgrade({...ep(), protocol: null})
          assert.equal(ws, undefined)
          assertHttp(
            response,
            400,
            `no Sec-WebSocket-Protocol offered: MQTT clients must offer one of ${SUPPORTED} (or start the broker with --ws-allow-no-subprotocol)\n`,
          )
        })

        it('refuses a client offering only unsupported subprotocols with 400 naming the supported ones', async () => {
          const {response, ws} = await tryUpgrade({...ep(), protocol: 'foo, mqttv5'})
          assert.equal(ws, undefined)
          assertHttp(response, 400, `none of the offered subprotocols (foo, mqttv5) is supported: offer one of ${SUPPORTED}\n`)
        })
      })

      // ---- 3. binary frames only ----

      describe('binary frames only', () => {
        it('closes with 1003 when a connected client sends a text frame', async () => {
          const ws = await wireMqtt(ep(), uid('text'))
          ws.sendText('hello')
          const closed = await ws.waitClosed()
          assert.deepEqual(closed, {code: 1003, reason: 'MQTT over WebSocket needs binary frames', closeFrameReceived: true})
          assert.equal(ws.dataFrames.length, 1, 'nothing but the CONNACK before the close')
          const last = ws.frames[ws.frames.length - 1]
          assert.equal(last.opcode, Opcode.Close)
          assert.equal(last.fin, true)
        })

        it('closes with 1003 on a text frame before CONNECT, ignoring the binary CONNECT right behind it', async () => {
          const ws = track(await wireConnect(ep()))
          ws.sendRaw(Buffer.concat([encodeFrame(Opcode.Text, Buffer.from('{"cmd":"connect"}')), encodeFrame(Opcode.Binary, mqtt.connect(uid('text2')))]))
          const closed = await ws.waitClosed()
          assert.equal(closed.code, 1003)
          assert.equal(ws.dataFrames.length, 0, 'no CONNACK')
        })
      })

      // ---- 4. packets over frames, in any split ----

      describe('incoming: any split of packets over frames', () => {
        for (const at of [1, 5, 13]) {
          it(`reads a CONNECT split in 2 frames (after byte ${at})`, async () => {
            const ws = track(await wireConnect(ep()))
            const connect = mqtt.connect(uid('split'))
            assert.ok(at < connect.length)
            ws.sendBinary(connect.subarray(0, at))
            ws.sendBinary(connect.subarray(at))
            const frames = await ws.waitDataFrames(1)
            assertPacketFrame(frames[0], mqtt.connack, 'CONNACK')
          })
        }

        it('reads a PUBLISH sent one byte per frame and delivers it to the subscriber', async () => {
          const topic = uid(`${scheme}/bytewise`)
          const sub = await wireMqtt(ep(), uid('sub'))
          await wireSubscribe(sub, 1, topic)
          const pub = await wireMqtt(ep(), uid('pub'))
          const publish = mqtt.publish(topic, 'one byte per frame')
          for (let i = 0; i < publish.length; i++) pub.sendBinary(publish.subarray(i, i + 1))
          const frames = await sub.waitDataFrames(3)
          assertPacketFrame(frames[2], publish, 'PUBLISH')
          // The publisher is still fine: it answers a PINGREQ, and got nothing else.
          assert.equal((await pingBarrier(pub)).length, 1)
          assert.equal((await pingBarrier(sub)).length, 3)
        })

        it('reads CONNECT + SUBSCRIBE + PUBLISH in one frame and answers each in its own frame', async () => {
          const topic = uid(`${scheme}/one-frame`)
          const ws = track(await wireConnect(ep()))
          const publish = mqtt.publish(topic, 'three packets, one frame')
          ws.sendBinary(Buffer.concat([mqtt.connect(uid('three')), mqtt.subscribe(7, topic), publish]))
          const frames = await ws.waitDataFrames(3)
          assertPacketFrame(frames[0], mqtt.connack, 'CONNACK')
          assertPacketFrame(frames[1], mqtt.suback(7), 'SUBACK')
          assertPacketFrame(frames[2], publish, 'PUBLISH')
          assert.equal((await pingBarrier(ws)).length, 3, 'nothing else')
          assertNothingButFrames(ws)
        })

        it('reads packets cut into 3-byte frames across packet boundaries, all in one socket write', async () => {
          const topic = uid(`${scheme}/ragged`)
          const ws = track(await wireConnect(ep()))
          const publish = mqtt.publish(topic, 'ragged frames')
          const stream = Buffer.concat([mqtt.connect(uid('ragged')), mqtt.subscribe(2, topic), publish, mqtt.pingreq])
          ws.sendRaw(Buffer.concat(chunks(stream, 3).map((c) => encodeFrame(Opcode.Binary, c))))
          const frames = await ws.waitDataFrames(4)
          assertPacketFrame(frames[0], mqtt.connack, 'CONNACK')
          assertPacketFrame(frames[1], mqtt.suback(2), 'SUBACK')
          assertPacketFrame(frames[2], publish, 'PUBLISH')
          assertPacketFrame(frames[3], mqtt.pingresp, 'PINGRESP')
        })

        it('reads a CONNECT sent as a fragmented WebSocket message (binary + continuation)', async () => {
          const ws = track(await wireConnect(ep()))
          const connect = mqtt.connect(uid('fragmented'))
          ws.sendFrame(Opcode.Binary, connect.subarray(0, 4), {fin: false})
          ws.sendFrame(Opcode.Continuation, connect.subarray(4, 9), {fin: false})
          ws.sendFrame(Opcode.Continuation, connect.subarray(9), {fin: true})
          assertPacketFrame((await ws.waitDataFrames(1))[0], mqtt.connack, 'CONNACK')
        })

        it('reads a CONNECT frame sent in the same write as the upgrade request', async () => {
          const ws = track(await wireConnect({...ep(), pipelined: encodeFrame(Opcode.Binary, mqtt.connect(uid('pipelined')))}))
          assertPacketFrame((await ws.waitDataFrames(1))[0], mqtt.connack, 'CONNACK')
          assertNothingButFrames(ws)
        })
      })

      // ---- 5. outgoing: one frame per packet ----

      describe('outgoing: exactly one frame per packet, counted at the wire', () => {
        it('sends CONNACK, SUBACK, PUBLISH and PINGRESP as one FIN frame each (38-byte PUBLISH = 40 wire bytes)', async () => {
          const ws = track(await wireConnect(ep()))
          ws.sendBinary(mqtt.connect(uid('frames')))
          await ws.waitDataFrames(1)
          assert.equal(ws.frames.length, 1)
          assertPacketFrame(ws.frames[0], mqtt.connack, 'CONNACK')
          assert.equal(ws.wireBytes, 6)

          const topic = 't/ws' // 4 bytes, so that the PUBLISH below is 38 bytes
          await wireSubscribe(ws, 1, topic)
          assert.equal(ws.wireBytes, 6 + 7)

          const publish = mqtt.publish(topic, Buffer.alloc(30, 0x2a))
          assert.equal(publish.length, 38)
          // Delivered from another client, so that only the delivery reaches `ws`.
          const pub = await wireMqtt(ep(), uid('frames-pub'))
          pub.sendBinary(publish)
          const frames = await ws.waitDataFrames(3)
          assertPacketFrame(frames[2], publish, 'PUBLISH')
          assert.equal(frames[2].wireLength, 40)
          assert.equal(ws.wireBytes, 6 + 7 + 40)

          await pingBarrier(ws)
          assert.equal(ws.frames.length, 4)
          assertPacketFrame(ws.frames[3], mqtt.pingresp, 'PINGRESP')
          assert.equal(ws.wireBytes, 6 + 7 + 40 + 4)
          assertNothingButFrames(ws)
        })

        it('sends a 200-byte and a 70,000-byte PUBLISH as one frame each (16-bit and 64-bit length)', async () => {
          const topic = uid(`${scheme}/big`)
          const ws = await wireMqtt(ep(), uid('big-sub'))
          await wireSubscribe(ws, 1, topic)
          const tcp = await tcpMqtt(broker.get().ports.mqtt, false, uid('big-pub'))
          const medium = mqtt.publish(topic, Buffer.alloc(200 - 5 - Buffer.byteLength(topic), 0x6d))
          const large = mqtt.publish(topic, Buffer.alloc(70_000, 0x4c))
          assert.equal(medium.length, 200)
          tcp.send(Buffer.concat([medium, large]))
          const frames = await ws.waitDataFrames(4)
          assertPacketFrame(frames[2], medium, '200-byte PUBLISH')
          assert.equal(frames[2].wireLength, 204)
          assertPacketFrame(frames[3], large, `${large.length}-byte PUBLISH`)
          assert.equal(frames[3].wireLength, 10 + large.length)
          assert.equal((await pingBarrier(ws)).length, 4)
          assertNothingButFrames(ws)
        })

        it('sends 5 PUBLISHes arriving in one turn as 5 frames, one packet each (piggyback off)', async () => {
          const topic = uid(`${scheme}/five`)
          const ws = await wireMqtt(ep(), uid('five-sub'))
          await wireSubscribe(ws, 1, topic)
          const tcp = await tcpMqtt(broker.get().ports.mqtt, false, uid('five-pub'))
          const packets = [1, 2, 3, 4, 5].map((i) => mqtt.publish(topic, `message ${i}`))
          tcp.send(Buffer.concat(packets))
          const frames = (await pingBarrier(ws)).slice(2)
          assert.equal(frames.length, 5)
          for (let i = 0; i < 5; i++) assertPacketFrame(frames[i], packets[i], `PUBLISH ${i + 1}`)
        })
      })

      // ---- 8. one namespace across transports ----

      describe('one topic namespace across transports', () => {
        for (const tcpScheme of ['mqtt', 'mqtts'] as const) {
          it(`delivers a ${tcpScheme}:// publisher's PUBLISH byte for byte to a ${scheme}:// subscriber`, async () => {
            const topic = uid(`x/${tcpScheme}-to-${scheme}`)
            const ws = await wireMqtt(ep(), uid('x-sub'))
            await wireSubscribe(ws, 3, topic)
            const tcp = await tcpMqtt(broker.get().ports[tcpScheme], tcpScheme === 'mqtts', uid('x-pub'))
            const publish = mqtt.publish(topic, Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0x0d, 0x0a]))
            tcp.send(publish)
            const frames = await ws.waitDataFrames(3)
            assertPacketFrame(frames[2], publish, 'PUBLISH')
            assert.equal((await pingBarrier(ws)).length, 3)
          })

          it(`delivers a ${scheme}:// publisher's PUBLISH byte for byte to a ${tcpScheme}:// subscriber`, async () => {
            const topic = uid(`x/${scheme}-to-${tcpScheme}`)
            const tcp = await tcpMqtt(broker.get().ports[tcpScheme], tcpScheme === 'mqtts', uid('x-sub'))
            await tcpSubscribe(tcp, 4, topic)
            const ws = await wireMqtt(ep(), uid('x-pub'))
            const publish = mqtt.publish(topic, Buffer.from('from a WebSocket, split over 2 frames'))
            ws.sendBinary(publish.subarray(0, 10))
            ws.sendBinary(publish.subarray(10))
            const got = await tcp.waitBytes(4 + 5 + publish.length)
            assertBytes(got.subarray(9), publish)
            tcp.send(mqtt.pingreq)
            const after = await tcp.waitBytes(9 + publish.length + 2)
            assertBytes(after.subarray(9), Buffer.concat([publish, mqtt.pingresp]), 'nothing else')
          })
        }
      })
    })

    // ---- 2. subprotocol options ----

    describe(`${scheme}:// with allowNoSubprotocol`, () => {
      const broker = brokerFor({ws: {allowNoSubprotocol: true}})
      const ep = (): Endpoint => endpoint(broker.get(), scheme)

      it('upgrades a client offering no subprotocol, with no Sec-WebSocket-Protocol in the answer', async () => {
        const ws = track(await wireConnect({...ep(), protocol: null}))
        assert.equal(ws.handshake.status, 101)
        assert.equal(ws.handshake.headers['sec-websocket-protocol'], undefined)
        ws.sendBinary(mqtt.connect(uid('noproto')))
        assertPacketFrame((await ws.waitDataFrames(1))[0], mqtt.connack, 'CONNACK')
      })

      it('still echoes a supported offer and still refuses unsupported-only offers', async () => {
        const ws = track(await wireConnect({...ep(), protocol: 'foo, mqttv3.1'}))
        assert.equal(ws.protocol, 'mqttv3.1')
        const {response} = await tryUpgrade({...ep(), protocol: 'foo'})
        assertHttp(response, 400, `none of the offered subprotocols (foo) is supported: offer one of ${SUPPORTED}\n`)
      })
    })

    describe(`${scheme}:// with ws.subprotocols = [mqtt-custom, mqttv3.1]`, () => {
      const broker = brokerFor({ws: {subprotocols: ['mqtt-custom', 'mqttv3.1']}})
      const ep = (): Endpoint => endpoint(broker.get(), scheme)

      it('echoes the first offered value from the configured list', async () => {
        const a = track(await wireConnect({...ep(), protocol: 'mqtt, mqttv3.1'}))
        assert.equal(a.protocol, 'mqttv3.1')
        const b = track(await wireConnect({...ep(), protocol: 'foo, mqtt-custom, mqttv3.1'}))
        assert.equal(b.protocol, 'mqtt-custom')
      })

      it('refuses the default "mqtt" with 400 naming the configured ones', async () => {
        const {response} = await tryUpgrade({...ep(), protocol: 'mqtt'})
        assertHttp(response, 400, 'none of the offered subprotocols (mqtt) is supported: offer one of mqtt-custom, mqttv3.1\n')
        const none = await tryUpgrade({...ep(), protocol: null})
        assertHttp(
          none.response,
          400,
          'no Sec-WebSocket-Protocol offered: MQTT clients must offer one of mqtt-custom, mqttv3.1 (or start the broker with --ws-allow-no-subprotocol)\n',
        )
      })
    })

    describe(`${scheme}:// on a custom path`, () => {
      const broker = brokerFor({listeners: [`${scheme}://127.0.0.1:0/custom/mqtt`]})
      const ep = (): Endpoint => endpoint(broker.get(), scheme)

      it('upgrades only on the configured path, and 404 names it', async () => {
        const ws = track(await wireConnect({...ep(), path: '/custom/mqtt'}))
        assert.equal(ws.handshake.status, 101)
        const {response} = await tryUpgrade({...ep(), path: '/mqtt'})
        assertHttp(response, 404, 'this broker serves MQTT over WebSocket on /custom/mqtt, not on /mqtt\n')
        const plain = await httpExchange(ep(), 'GET /custom/mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
        assertHttp(
          plain,
          426,
          'this is an MQTT over WebSocket endpoint: connect with a WebSocket client (subprotocol "mqtt") to /custom/mqtt\n',
        )
      })
    })

    // ---- 6. piggyback ----

    describe(`${scheme}:// with piggyback`, () => {
      const broker = brokerFor({ws: {piggyback: true}})
      const ep = (): Endpoint => endpoint(broker.get(), scheme)

      it('sends 5 PUBLISHes pending in one turn in fewer frames, holding exactly those 5 packets', async () => {
        const topic = uid(`${scheme}/piggy`)
        const ws = await wireMqtt(ep(), uid('piggy-sub'))
        await wireSubscribe(ws, 1, topic)
        const tcp = await tcpMqtt(broker.get().ports.mqtt, false, uid('piggy-pub'))
        const packets = [1, 2, 3, 4, 5].map((i) => mqtt.publish(topic, `piggybacked message ${i}`))
        const all = Buffer.concat(packets)
        tcp.send(all)
        await ws.waitFor('the 5 PUBLISHes', () => ws.dataFrames.slice(2).reduce((n, f) => n + f.payload.length, 0) >= all.length)
        const frames = (await pingBarrier(ws)).slice(2)
        assert.ok(frames.length < packets.length, `expected fewer than 5 frames, got ${frames.length}`)
        assertBytes(Buffer.concat(frames.map((f) => f.payload)), all, 'the frames carry exactly the 5 packets')
        // Frames hold whole packets: every frame ends on a packet boundary.
        const boundaries = new Set<number>()
        let end = 0
        for (const p of packets) boundaries.add((end += p.length))
        let at = 0
        for (const f of frames) {
          assert.equal(f.opcode, Opcode.Binary)
          assert.equal(f.fin, true)
          at += f.payload.length
          assert.ok(boundaries.has(at), `a frame ends at byte ${at}, inside a packet`)
        }
        assertNothingButFrames(ws)
      })

      it('sends CONNACK, SUBACK and the PUBLISH produced by one frame in a single frame', async () => {
        const topic = uid(`${scheme}/piggy-one`)
        const ws = track(await wireConnect(ep()))
        const publish = mqtt.publish(topic, 'together')
        ws.sendBinary(Buffer.concat([mqtt.connect(uid('piggy-one')), mqtt.subscribe(9, topic), publish]))
        const expected = Buffer.concat([mqtt.connack, mqtt.suback(9), publish])
        await ws.waitDataBytes(expected.length)
        const frames = await pingBarrier(ws)
        assert.equal(frames.length, 1, ws.describe())
        assertPacketFrame(frames[0], expected, 'CONNACK+SUBACK+PUBLISH')
      })

      it('still sends a lone packet as one frame', async () => {
        const ws = await wireMqtt(ep(), uid('piggy-lone'))
        await pingBarrier(ws)
        assert.equal(ws.frames.length, 2)
        assertPacketFrame(ws.frames[1], mqtt.pingresp, 'PINGRESP')
      })
    })

    // ---- closing: what arrived before the close is still handled ----

    describe(`${scheme}:// when the client closes while its CONNECT is being authenticated`, () => {
      // Authentication of "slow-*" clients finishes only once the server has seen the WebSocket close.
      const slowAuth = (get: () => TestBroker): BrokerOptions => {
        const auth: Auth = {
          authenticate: async (c) => {
            if (c.clientId.startsWith('slow-')) {
              const client = [...get().broker.connections].find((x) => x.remote === c.remote)
              assert.ok(client, `no connection from ${c.remote}`)
              const {socket} = client.stream as WsServerStream
              if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve))
            }
            return {ok: true}
          },
          canPublish: () => true,
          canSubscribe: (_c, _f, qos) => qos,
        }
        return {auth}
      }
      const broker = brokerFor(undefined, slowAuth)
      const ep = (): Endpoint => endpoint(broker.get(), scheme)

      it('still routes a PUBLISH the client sent (in its own frame) before DISCONNECT and the close', async () => {
        const topic = uid(`${scheme}/before-close`)
        const sub = await wireMqtt(ep(), uid('close-sub'))
        await wireSubscribe(sub, 1, topic)
        const pub = track(await wireConnect(ep()))
        const publish = mqtt.publish(topic, 'sent before the close')
        pub.sendRaw(
          Buffer.concat([
            encodeFrame(Opcode.Binary, mqtt.connect(uid('slow-pub'))),
            encodeFrame(Opcode.Binary, publish),
            encodeFrame(Opcode.Binary, mqtt.disconnect),
          ]),
        )
        pub.close()
        await pub.waitClosed()
        const frames = await sub.waitDataFrames(3)
        assertPacketFrame(frames[2], publish, 'PUBLISH')
      })
    })

    // ---- 7. maximum payload ----

    describe(`${scheme}:// with limits.maxPacketSize = 128`, () => {
      const broker = brokerFor({limits: {maxPacketSize: 128}})
      const ep = (): Endpoint => endpoint(broker.get(), scheme)

      it('accepts a frame of exactly 128 bytes (a 128-byte PUBLISH)', async () => {
        const topic = 't/big'
        const ws = await wireMqtt(ep(), uid('max-ok'))
        await wireSubscribe(ws, 1, topic)
        const publish = publishOfSize(topic, 128)
        ws.sendBinary(publish)
        const frames = await ws.waitDataFrames(3)
        assertPacketFrame(frames[2], publish, '128-byte PUBLISH')
        assert.equal(frames[2].wireLength, 132)
      })

      it('closes with 1009 on a frame of 129 bytes', async () => {
        const ws = await wireMqtt(ep(), uid('max-over'))
        ws.sendBinary(publishOfSize('t/over', 129))
        const closed = await ws.waitClosed()
        assert.equal(closed.code, 1009)
        assert.equal(closed.closeFrameReceived, true)
        assert.equal(ws.dataFrames.length, 1, 'nothing after CONNACK')
      })

      it('closes with 1009 on an oversized frame before CONNECT', async () => {
        const ws = track(await wireConnect(ep()))
        ws.sendBinary(Buffer.alloc(1000, 0x30))
        assert.equal((await ws.waitClosed()).code, 1009)
        assert.equal(ws.dataFrames.length, 0)
      })

      it('closes with 1009 on a fragmented message of 2 × 100 bytes', async () => {
        const ws = await wireMqtt(ep(), uid('max-frag'))
        const publish = mqtt.publish('t/frag', Buffer.alloc(150, 0x66))
        assert.ok(publish.length > 128)
        ws.sendFrame(Opcode.Binary, publish.subarray(0, 100), {fin: false})
        ws.sendFrame(Opcode.Continuation, publish.subarray(100), {fin: true})
        assert.equal((await ws.waitClosed()).code, 1009)
      })
    })
  }
})
