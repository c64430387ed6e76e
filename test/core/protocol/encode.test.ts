import assert from 'node:assert/strict'
import mqttPacket from 'mqtt-packet'
import type {Packet} from 'mqtt-packet'
import {
  PINGRESP,
  PacketType,
  encodeAck,
  encodePublish,
  publishPacketIdOffset,
  varintSize,
  withPacketId,
} from '../../../src/core/protocol/encode.js'
import type {PublishProperties} from '../../../src/core/protocol/encode.js'
import type {ProtocolVersion, QoS} from '../../../src/core/protocol/codec.js'
import {hex} from '../../helpers/raw.js'

const VERSIONS: ProtocolVersion[] = [3, 4, 5]
const QOS: QoS[] = [0, 1, 2]

interface PublishCase {
  version: ProtocolVersion
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  dup: boolean
  packetId: number
  properties?: PublishProperties
}

function ours(c: PublishCase): Buffer {
  return encodePublish(c.version, c.topic, c.payload, c.qos, c.retain, c.dup, c.packetId, c.properties)
}

/** The reference: mqtt-packet's generate() of the same PUBLISH (no packet id at QoS 0). */
function reference(c: PublishCase): Buffer {
  const packet = {
    cmd: 'publish' as const,
    topic: c.topic,
    payload: c.payload,
    qos: c.qos,
    retain: c.retain,
    dup: c.dup,
    ...(c.qos > 0 ? {messageId: c.packetId} : {}),
    ...(c.properties ? {properties: c.properties} : {}),
  }
  return mqttPacket.generate(packet, {protocolVersion: c.version})
}

/** Compares without printing megabytes when the buffers differ. */
function assertSameBytes(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return
  let at = 0
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++
  assert.fail(
    `${what}: ${actual.length} bytes vs ${expected.length}, first difference at ${at}: ` +
      `${actual.subarray(at, at + 8).toString('hex')} vs ${expected.subarray(at, at + 8).toString('hex')}`,
  )
}

function describeCase(c: PublishCase): string {
  return `v${c.version} qos${c.qos} retain=${c.retain} dup=${c.dup} topic=${JSON.stringify(c.topic)} payload=${c.payload.length}B${c.properties ? ` properties=${JSON.stringify(c.properties)}` : ''}`
}

function parse(bytes: Buffer, version: ProtocolVersion): Record<string, unknown> {
  const parser = mqttPacket.parser({protocolVersion: version})
  const packets: Packet[] = []
  parser.on('packet', (p: Packet) => packets.push(p))
  parser.on('error', (e: Error) => assert.fail(`mqtt-packet could not parse ${bytes.toString('hex')}: ${e.message}`))
  parser.parse(bytes)
  assert.equal(packets.length, 1)
  return {...packets[0]}
}

describe('encode', () => {
  describe('varintSize', () => {
    const table: Array<[number, number]> = [
      [0, 1],
      [127, 1],
      [128, 2],
      [16_383, 2],
      [16_384, 3],
      [2_097_151, 3],
      [2_097_152, 4],
      [268_435_455, 4],
    ]
    for (const [n, size] of table) {
      it(`${n} takes ${size} byte(s)`, () => assert.equal(varintSize(n), size))
    }
  })

  describe('encodePublish: exact bytes', () => {
    it('QoS 0, 3.1.1', () => {
      assert.equal(encodePublish(4, 'a/b', Buffer.from('hello'), 0, false, false, 0, undefined).toString('hex'), hex('30 0a 00 03 61 2f 62 68 65 6c 6c 6f').toString('hex'))
    })

    it('QoS 1 retain, 3.1.1', () => {
      assert.equal(encodePublish(4, 'a/b', Buffer.from('hi'), 1, true, false, 1, undefined).toString('hex'), hex('33 09 00 03 61 2f 62 00 01 68 69').toString('hex'))
    })

    it('QoS 2 dup retain, multibyte topic, 3.1', () => {
      const bytes = encodePublish(3, 'é/ü', Buffer.from([0, 0xff]), 2, true, true, 65534, undefined)
      assert.equal(bytes.toString('hex'), hex('3d 0b 00 05 c3 a9 2f c3 bc ff fe 00 ff').toString('hex'))
    })

    it('QoS 0, MQTT 5 without properties writes a zero property length', () => {
      assert.equal(encodePublish(5, 't', Buffer.from('p'), 0, false, false, 0, undefined).toString('hex'), hex('30 05 00 01 74 00 70').toString('hex'))
    })

    it('QoS 2, MQTT 5 with a subscription identifier', () => {
      const bytes = encodePublish(5, 'x', Buffer.from('1'), 2, true, true, 9, {subscriptionIdentifier: 200, contentType: 'json'})
      assert.equal(bytes.toString('hex'), hex('3d 11 00 01 78 00 09 0a 0b c8 01 03 00 04 6a 73 6f 6e 31').toString('hex'))
    })

    it('QoS 0 ignores the packet id', () => {
      assert.equal(encodePublish(4, 't', Buffer.from('x'), 0, false, false, 99, undefined).toString('hex'), '300400017478')
    })

    it('empty properties are written as no properties', () => {
      assert.equal(encodePublish(5, 't', Buffer.from('x'), 1, false, false, 99, {}).toString('hex'), '320700017400630078')
    })
  })

  describe('encodePublish equals mqtt-packet generate', () => {
    const TOPICS = ['a', 'sensors/température', 'ünï/cødé/🚀', '$SYS/broker', 'a//b/']

    it('every version, QoS, retain and dup, on ASCII and multibyte topics', () => {
      let checked = 0
      for (const version of VERSIONS) {
        for (const qos of QOS) {
          for (const retain of [false, true]) {
            for (const dup of [false, true]) {
              for (const topic of TOPICS) {
                const c: PublishCase = {version, topic, payload: Buffer.from('hello ✓'), qos, retain, dup, packetId: 0x1234}
                assertSameBytes(ours(c), reference(c), describeCase(c))
                checked++
              }
            }
          }
        }
      }
      assert.equal(checked, 3 * 3 * 2 * 2 * TOPICS.length)
    })

    it('packet ids 1, 255, 256 and 65535', () => {
      for (const version of VERSIONS) {
        for (const packetId of [1, 255, 256, 65535]) {
          const c: PublishCase = {version, topic: 't', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId}
          assertSameBytes(ours(c), reference(c), describeCase(c))
        }
      }
    })

    describe('payload sizes at the Remaining Length boundaries', () => {
      const SIZES = [0, 127, 128, 16_383, 16_384, 2_097_152]
      for (const size of SIZES) {
        it(`payload of ${size} bytes`, () => {
          const payload = Buffer.alloc(size)
          for (let i = 0; i < size; i++) payload[i] = i & 0xff
          for (const version of VERSIONS) {
            for (const qos of QOS) {
              const c: PublishCase = {version, topic: 'ü/t', payload, qos, retain: qos === 1, dup: qos === 2, packetId: 7}
              assertSameBytes(ours(c), reference(c), describeCase(c))
            }
          }
        })
      }

      // Remaining Length exactly at each varint boundary: 3.1.1 QoS 1 to "t" has 5 bytes before the payload.
      const BOUNDARIES: Array<[number, string]> = [
        [127, '7f'],
        [128, '8001'],
        [16_383, 'ff7f'],
        [16_384, '808001'],
        [2_097_151, 'ffff7f'],
        [2_097_152, '80808001'],
      ]
      for (const [remaining, varint] of BOUNDARIES) {
        it(`Remaining Length ${remaining} is written as ${varint}`, () => {
          const c: PublishCase = {version: 4, topic: 't', payload: Buffer.alloc(remaining - 5, 0x61), qos: 1, retain: false, dup: false, packetId: 2}
          const bytes = ours(c)
          assert.equal(bytes.length, 1 + varint.length / 2 + remaining)
          assert.equal(bytes.subarray(0, 1 + varint.length / 2 + 5).toString('hex'), `32${varint}0001740002`)
          assertSameBytes(bytes, reference(c), describeCase(c))
        })
      }
    })

    describe('MQTT 5 properties', () => {
      const PROPERTIES: PublishProperties[] = [
        {messageExpiryInterval: 60},
        {payloadFormatIndicator: true, contentType: 'text/plain; charset=utf-8'},
        {responseTopic: 'reply/ü', correlationData: Buffer.from([0, 1, 2, 0xff])},
        {userProperties: {a: '1', b: ['2', '3'], ключ: 'значение'}},
        {subscriptionIdentifier: [1, 300, 268_435_455]},
        {subscriptionIdentifier: 16_384, messageExpiryInterval: 0},
      ]
      for (const properties of PROPERTIES) {
        it(JSON.stringify(properties), () => {
          for (const qos of QOS) {
            const c: PublishCase = {version: 5, topic: 'p/q', payload: Buffer.from('payload'), qos, retain: qos === 1, dup: qos === 2, packetId: 300, properties}
            assertSameBytes(ours(c), reference(c), describeCase(c))
          }
        })
      }

      it('3.1.1 and 3.1 ignore properties', () => {
        for (const version of [3, 4] as const) {
          const withProps = encodePublish(version, 't', Buffer.from('x'), 1, false, false, 99, {messageExpiryInterval: 5})
          assert.equal(withProps.toString('hex'), '3206000174006378')
        }
      })
    })
  })

  describe('publishPacketIdOffset and withPacketId', () => {
    // offset = 1 + Remaining Length bytes + 2 + topic bytes
    const CASES: Array<PublishCase & {offset: number}> = [
      {offset: 5, version: 4, topic: 't', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 1},
      {offset: 15, version: 3, topic: 'é/ü/🚀', payload: Buffer.alloc(200, 1), qos: 2, retain: true, dup: false, packetId: 0x0102},
      {offset: 16, version: 4, topic: 'long/topic', payload: Buffer.alloc(20_000, 2), qos: 1, retain: false, dup: true, packetId: 0x7fff},
      {offset: 11, version: 4, topic: 'huge', payload: Buffer.alloc(2_100_000, 3), qos: 1, retain: false, dup: false, packetId: 9},
      {offset: 5, version: 5, topic: 'p', payload: Buffer.from('y'), qos: 1, retain: false, dup: false, packetId: 5},
      {offset: 8, version: 5, topic: 'p/ü', payload: Buffer.from('z'), qos: 2, retain: false, dup: false, packetId: 6, properties: {userProperties: {k: 'v'}}},
    ]

    for (const c of CASES) {
      it(describeCase(c), () => {
        const template = ours(c)
        assert.equal(publishPacketIdOffset(template), c.offset)
        assert.equal(template.readUInt16BE(c.offset), c.packetId)
        for (const packetId of [1, 0x00ff, 0xff00, 0xbeef, 65535]) {
          assertSameBytes(withPacketId(template, packetId), ours({...c, packetId}), `${describeCase(c)} with id ${packetId}`)
        }
        assertSameBytes(template, ours(c), 'the template is unchanged')
      })
    }
  })

  describe('encodeAck', () => {
    const ACKS = [
      {cmd: 'puback', type: PacketType.PUBACK, first: 0x40},
      {cmd: 'pubrec', type: PacketType.PUBREC, first: 0x50},
      {cmd: 'pubrel', type: PacketType.PUBREL, first: 0x62},
      {cmd: 'pubcomp', type: PacketType.PUBCOMP, first: 0x70},
    ] as const
    const idBytes = (id: number): string => id.toString(16).padStart(4, '0')

    for (const ack of ACKS) {
      describe(ack.cmd, () => {
        it('3.1 and 3.1.1: two bytes of packet id, any reason code ignored', () => {
          for (const version of [3, 4] as const) {
            for (const id of [1, 0x1234, 65535]) {
              const expected = `${ack.first.toString(16)}02${idBytes(id)}`
              assert.equal(encodeAck(ack.type, id, version).toString('hex'), expected)
              assert.equal(encodeAck(ack.type, id, version, 0x80).toString('hex'), expected)
              assert.equal(mqttPacket.generate({cmd: ack.cmd, messageId: id} as Packet, {protocolVersion: version}).toString('hex'), expected)
            }
          }
        })

        it('MQTT 5 success: the reason code is omitted, as mqtt-packet does', () => {
          const expected = `${ack.first.toString(16)}02${idBytes(0x0a0b)}`
          assert.equal(encodeAck(ack.type, 0x0a0b, 5).toString('hex'), expected)
          assert.equal(encodeAck(ack.type, 0x0a0b, 5, 0).toString('hex'), expected)
          const generated = mqttPacket.generate({cmd: ack.cmd, messageId: 0x0a0b, reasonCode: 0} as Packet, {protocolVersion: 5})
          assert.equal(generated.toString('hex'), expected)
        })

        it('MQTT 5 with a reason code: short form that parses like mqtt-packet generate', () => {
          const reasonCode = ack.cmd === 'pubrel' || ack.cmd === 'pubcomp' ? 0x92 : 0x10
          const bytes = encodeAck(ack.type, 0xabcd, 5, reasonCode)
          assert.equal(bytes.toString('hex'), `${ack.first.toString(16)}03abcd${reasonCode.toString(16)}`)
          const generated = mqttPacket.generate({cmd: ack.cmd, messageId: 0xabcd, reasonCode} as Packet, {protocolVersion: 5})
          // mqtt-packet adds an empty property length; both are valid (MQTT 5 §3.4.2.2).
          assert.equal(generated.toString('hex'), `${ack.first.toString(16)}04abcd${reasonCode.toString(16)}00`)
          assert.deepEqual({...parse(bytes, 5), length: 0}, {...parse(generated, 5), length: 0})
          assert.equal(parse(bytes, 5).reasonCode, reasonCode)
        })
      })
    }
  })

  it('PINGRESP is mqtt-packet generate of pingresp', () => {
    assert.equal(PINGRESP.toString('hex'), 'd000')
    assert.equal(mqttPacket.generate({cmd: 'pingresp'}).toString('hex'), 'd000')
  })
})
