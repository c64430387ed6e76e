import assert from 'node:assert/strict'
import mqttPacket from 'mqtt-packet'
import type {IConnectPacket, Packet} from 'mqtt-packet'
import {Decoder} from '../../../src/core/protocol/codec.js'
import type {DecoderSink} from '../../../src/core/protocol/codec.js'
import {decodeConnect311} from '../../../src/core/protocol/connect-decode.js'

/** What mqtt-packet's own parser makes of the bytes: the reference the fast path must match. */
function mqttPacketParse(bytes: Buffer, protocolVersion: number): Packet {
  const parser = mqttPacket.parser({protocolVersion})
  let out: Packet | undefined
  parser.on('packet', (p: Packet) => (out = p))
  parser.on('error', (e: Error) => assert.fail(e.message))
  parser.parse(bytes)
  return {...out!} as Packet // its fields, without the class (the fast path makes a plain object)
}

const long = (n: number, c = 'x'): string => c.repeat(n)

/** CONNECTs of every shape MQTT 3.1 and 3.1.1 allow. */
function variants(): Array<Partial<IConnectPacket> & {protocolVersion: 3 | 4}> {
  const out: Array<Partial<IConnectPacket> & {protocolVersion: 3 | 4}> = []
  for (const protocolVersion of [3, 4] as const) {
    const protocolId = protocolVersion === 3 ? 'MQIsdp' : 'MQTT'
    for (const clean of [true, false]) {
      for (const clientId of [...(protocolVersion === 4 && clean ? [''] : []), 'c1', 'ünïcödé-客户端', long(300)]) {
        out.push({protocolId, protocolVersion, clean, clientId, keepalive: 60})
      }
    }
    for (const keepalive of [0, 1, 65535]) out.push({protocolId, protocolVersion, clean: true, clientId: 'k', keepalive})
    for (const qos of [0, 1, 2] as const) {
      for (const retain of [false, true]) {
        out.push({protocolId, protocolVersion, clean: true, clientId: 'w', keepalive: 10, will: {topic: `will/${qos}/ü`, payload: Buffer.from(long(qos * 100, 'p')), qos, retain}})
      }
    }
    out.push({protocolId, protocolVersion, clean: true, clientId: 'u', keepalive: 5, username: 'user-ü'})
    out.push({protocolId, protocolVersion, clean: true, clientId: 'up', keepalive: 5, username: '', password: Buffer.alloc(0)})
    out.push({protocolId, protocolVersion, clean: false, clientId: 'all', keepalive: 7, username: long(200, 'u'), password: Buffer.from([0, 1, 2, 255]), will: {topic: 'a/b', payload: Buffer.from(long(20000, 'z')), qos: 1, retain: true}})
  }
  return out
}

describe('protocol: CONNECT 3.1 / 3.1.1 decoded without mqtt-packet', () => {
  it('builds the same packet as mqtt-packet for every shape (will, user name, password, long fields, UTF-8)', () => {
    for (const v of variants()) {
      const bytes = mqttPacket.generate({cmd: 'connect', ...v} as IConnectPacket)
      const decoded = decodeConnect311(bytes)
      assert.equal(decoded?.protocolVersion, v.protocolVersion)
      assert.deepStrictEqual(decoded, mqttPacketParse(bytes, v.protocolVersion), JSON.stringify(v).slice(0, 200))
    }
  })

  it('leaves an MQTT 5 CONNECT (properties) to mqtt-packet', () => {
    const bytes = mqttPacket.generate({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'v5', keepalive: 30, properties: {sessionExpiryInterval: 60}} as IConnectPacket)
    assert.equal(decodeConnect311(bytes), undefined)
  })

  it('is what the broker-side Decoder emits, and it sets the connection protocol level', () => {
    for (const v of variants()) {
      const bytes = mqttPacket.generate({cmd: 'connect', ...v} as IConnectPacket)
      const got: Packet[] = []
      const sink: DecoderSink = {onPacket: (p) => got.push(p), onDecodeError: (m) => assert.fail(m), onPacketTooLarge: () => assert.fail('too large')}
      const decoder = new Decoder(sink, 1 << 20, undefined, {checkClientPackets: true})
      // Split in two chunks: the packet is reassembled before it is decoded.
      decoder.write(bytes.subarray(0, 7))
      decoder.write(bytes.subarray(7))
      assert.equal(got.length, 1)
      assert.deepStrictEqual(got[0], mqttPacketParse(bytes, v.protocolVersion))
      assert.equal(Object.getPrototypeOf(got[0]), Object.prototype, 'decoded here, not by mqtt-packet (whose packets are Packet instances)')
      assert.equal(decoder.protocolVersion, v.protocolVersion)
    }
  })

  it('leaves a malformed CONNECT to the checks: the same refusal as before', () => {
    const good = mqttPacket.generate({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'x', keepalive: 1, username: 'u'} as IConnectPacket)
    const cut = Buffer.from(good)
    cut[1] -= 2 // the user name runs past the end
    const errors: string[] = []
    const sink: DecoderSink = {onPacket: () => assert.fail('decoded a malformed CONNECT'), onDecodeError: (m) => errors.push(m), onPacketTooLarge: () => assert.fail('too large')}
    new Decoder(sink, 1 << 20, undefined, {checkClientPackets: true}).write(cut.subarray(0, cut.length - 2))
    assert.equal(errors.length, 1)
    assert.match(errors[0], /user name/)
  })
})
