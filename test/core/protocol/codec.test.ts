import assert from 'node:assert/strict'
import {Decoder, encode} from '../../../src/core/protocol/codec.js'
import type {DecoderSink, Packet, ProtocolVersion} from '../../../src/core/protocol/codec.js'
import {prng, seedFromEnv} from '../../helpers/random.js'
import {hex} from '../../helpers/raw.js'

// ---- helpers ------------------------------------------------------------------------------

type Event = ['packet', Record<string, unknown>] | ['error', string] | ['tooLarge', number]

/** A sink that records every callback; packets are copied to plain objects for deepEqual. */
class Recorder implements DecoderSink {
  readonly events: Event[] = []
  onPacket(packet: Packet): void {
    this.events.push(['packet', {...packet}])
  }
  onDecodeError(message: string): void {
    this.events.push(['error', message])
  }
  onPacketTooLarge(declared: number): void {
    this.events.push(['tooLarge', declared])
  }
}

const NO_LIMIT = 268_435_460

/** Feeds `chunks` to a fresh decoder and returns what it reported. */
function decodeChunks(chunks: Buffer[], version?: ProtocolVersion, max = NO_LIMIT): Event[] {
  const sink = new Recorder()
  const decoder = new Decoder(sink, max, version)
  for (const chunk of chunks) decoder.write(chunk)
  return sink.events
}

function byteByByte(bytes: Buffer): Buffer[] {
  return Array.from(bytes, (b) => Buffer.from([b]))
}

const SEED = seedFromEnv('FUZZ_SEED')
const seedNote = `(FUZZ_SEED=${SEED})`

function randInt(rand: () => number, n: number): number {
  return Math.floor(rand() * n)
}

/** Splits `bytes` at random points (empty chunks included now and then). */
function randomSplit(bytes: Buffer, rand: () => number): Buffer[] {
  const chunks: Buffer[] = []
  let i = 0
  while (i < bytes.length) {
    const n = rand() < 0.05 ? 0 : 1 + randInt(rand, Math.min(bytes.length - i, 1 + randInt(rand, 24)))
    chunks.push(bytes.subarray(i, i + n))
    i += n
  }
  return chunks
}

/** The fields mqtt-packet's parser sets on every packet, plus the ones given. */
function parsed(cmd: string, length: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {cmd, retain: false, qos: 0, dup: false, length, topic: null, payload: null, ...fields}
}

/** mqtt-packet returns user properties as a null-prototype object. */
function userProps(o: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, o)
}

// ---- fixtures -----------------------------------------------------------------------------

interface Fixture {
  name: string
  version: ProtocolVersion
  hex: string
  packet: Record<string, unknown>
}

const FIXTURES: Fixture[] = [
  {
    name: 'CONNECT 3.1 "MQIsdp" with will (QoS 1, retain), username, password',
    version: 3,
    hex: '10 1e 00 06 4d 51 49 73 64 70 03 ee 00 3c 00 02 63 31 00 01 77 00 03 62 79 65 00 01 75 00 01 70',
    packet: parsed('connect', 30, {
      protocolId: 'MQIsdp',
      protocolVersion: 3,
      will: {retain: true, qos: 1, topic: 'w', payload: Buffer.from('bye')},
      clean: true,
      keepalive: 60,
      clientId: 'c1',
      username: 'u',
      password: Buffer.from('p'),
    }),
  },
  {
    name: 'CONNECT 3.1.1 minimal (empty client id, clean)',
    version: 4,
    hex: '10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00',
    packet: parsed('connect', 12, {protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: ''}),
  },
  {
    name: 'CONNECT 3.1.1 with will (QoS 2), UTF-8 username, password, persistent session',
    version: 4,
    hex: '10 23 00 04 4d 51 54 54 04 d4 00 00 00 05 64 65 76 2d 31 00 02 73 74 00 03 6f 66 66 00 03 6a c3 b6 00 02 70 77',
    packet: parsed('connect', 35, {
      protocolId: 'MQTT',
      protocolVersion: 4,
      will: {retain: false, qos: 2, topic: 'st', payload: Buffer.from('off')},
      clean: false,
      keepalive: 0,
      clientId: 'dev-1',
      username: 'jö',
      password: Buffer.from('pw'),
    }),
  },
  {
    name: 'CONNECT 5 with properties, will properties, username, password',
    version: 5,
    hex:
      '10 3f 00 04 4d 51 54 54 05 ce 00 1e 0f 11 00 00 00 3c 21 00 14 26 00 01 61 00 01 62 00 02 76 35' +
      '0c 18 00 00 00 0a 03 00 04 74 65 78 74 00 03 74 2f 77 00 02 01 02 00 04 75 73 65 72 00 03 01 02 03',
    packet: parsed('connect', 63, {
      protocolId: 'MQTT',
      protocolVersion: 5,
      will: {
        retain: false,
        qos: 1,
        properties: {willDelayInterval: 10, contentType: 'text'},
        topic: 't/w',
        payload: Buffer.from([1, 2]),
      },
      clean: true,
      keepalive: 30,
      properties: {sessionExpiryInterval: 60, receiveMaximum: 20, userProperties: userProps({a: 'b'})},
      clientId: 'v5',
      username: 'user',
      password: Buffer.from([1, 2, 3]),
    }),
  },
  {
    name: 'CONNACK 3.1 refused (not authorized)',
    version: 3,
    hex: '20 02 00 05',
    packet: parsed('connack', 2, {sessionPresent: false, returnCode: 5}),
  },
  {
    name: 'CONNACK 3.1.1 session present',
    version: 4,
    hex: '20 02 01 00',
    packet: parsed('connack', 2, {sessionPresent: true, returnCode: 0}),
  },
  {
    name: 'CONNACK 5 with properties',
    version: 5,
    hex: '20 0b 00 00 08 21 00 0a 24 01 22 00 05',
    packet: parsed('connack', 11, {
      sessionPresent: false,
      reasonCode: 0,
      properties: {receiveMaximum: 10, maximumQoS: 1, topicAliasMaximum: 5},
    }),
  },
  {
    name: 'CONNACK 5 refused (0x87), empty properties',
    version: 5,
    hex: '20 03 00 87 00',
    packet: parsed('connack', 3, {sessionPresent: false, reasonCode: 0x87}),
  },
  {
    name: 'PUBLISH 3.1.1 QoS 0',
    version: 4,
    hex: '30 0a 00 03 61 2f 62 68 65 6c 6c 6f',
    packet: parsed('publish', 10, {topic: 'a/b', payload: Buffer.from('hello')}),
  },
  {
    name: 'PUBLISH 3.1.1 QoS 1 retain',
    version: 4,
    hex: '33 09 00 03 61 2f 62 00 01 68 69',
    packet: parsed('publish', 9, {qos: 1, retain: true, topic: 'a/b', messageId: 1, payload: Buffer.from('hi')}),
  },
  {
    name: 'PUBLISH 3.1.1 QoS 2 dup, empty payload',
    version: 4,
    hex: '3c 05 00 01 78 12 34',
    packet: parsed('publish', 5, {qos: 2, dup: true, topic: 'x', messageId: 0x1234, payload: Buffer.alloc(0)}),
  },
  {
    name: 'PUBLISH 3.1.1 QoS 0 retain, empty payload (clears a retained message)',
    version: 4,
    hex: '31 03 00 01 78',
    packet: parsed('publish', 3, {retain: true, topic: 'x', payload: Buffer.alloc(0)}),
  },
  {
    name: 'PUBLISH 3.1.1 QoS 0, 2-byte Remaining Length',
    version: 4,
    hex: '30 cb 01 00 01 74' + '61'.repeat(200),
    packet: parsed('publish', 203, {topic: 't', payload: Buffer.alloc(200, 'a')}),
  },
  {
    name: 'PUBLISH 3.1 QoS 2 dup retain, multibyte UTF-8 topic',
    version: 3,
    hex: '3d 0b 00 05 c3 a9 2f c3 bc ff fe 00 ff',
    packet: parsed('publish', 11, {qos: 2, dup: true, retain: true, topic: 'é/ü', messageId: 65534, payload: Buffer.from([0, 0xff])}),
  },
  {
    name: 'PUBLISH 5 QoS 0 without properties',
    version: 5,
    hex: '30 05 00 01 74 00 70',
    packet: parsed('publish', 5, {topic: 't', payload: Buffer.from('p')}),
  },
  {
    name: 'PUBLISH 5 QoS 1 with properties',
    version: 5,
    hex: '32 24 00 03 61 2f 62 00 07 1a 01 01 02 00 00 00 3c 23 00 01 08 00 01 72 09 00 02 ab cd 26 00 01 6b 00 01 76 7b 7d',
    packet: parsed('publish', 36, {
      qos: 1,
      topic: 'a/b',
      messageId: 7,
      payload: Buffer.from('{}'),
      properties: {
        payloadFormatIndicator: true,
        messageExpiryInterval: 60,
        topicAlias: 1,
        responseTopic: 'r',
        correlationData: Buffer.from([0xab, 0xcd]),
        userProperties: userProps({k: 'v'}),
      },
    }),
  },
  {
    name: 'PUBLISH 5 QoS 2 dup retain, 2-byte subscription identifier',
    version: 5,
    hex: '3d 11 00 01 78 00 09 0a 0b c8 01 03 00 04 6a 73 6f 6e 31',
    packet: parsed('publish', 17, {
      qos: 2,
      dup: true,
      retain: true,
      topic: 'x',
      messageId: 9,
      payload: Buffer.from('1'),
      properties: {subscriptionIdentifier: 200, contentType: 'json'},
    }),
  },
  {name: 'PUBACK 3.1.1', version: 4, hex: '40 02 00 01', packet: parsed('puback', 2, {messageId: 1})},
  {name: 'PUBREC 3.1.1', version: 4, hex: '50 02 ab cd', packet: parsed('pubrec', 2, {messageId: 0xabcd})},
  {name: 'PUBREL 3.1.1', version: 4, hex: '62 02 00 02', packet: parsed('pubrel', 2, {qos: 1, messageId: 2})},
  {name: 'PUBCOMP 3.1.1', version: 4, hex: '70 02 ff ff', packet: parsed('pubcomp', 2, {messageId: 0xffff})},
  {name: 'PUBACK 5 success', version: 5, hex: '40 02 00 01', packet: parsed('puback', 2, {messageId: 1, reasonCode: 0})},
  {
    name: 'PUBREC 5 with reason code and reason string',
    version: 5,
    hex: '50 0a 00 05 80 06 1f 00 03 65 72 72',
    packet: parsed('pubrec', 10, {messageId: 5, reasonCode: 0x80, properties: {reasonString: 'err'}}),
  },
  {
    name: 'PUBREL 5 with reason code',
    version: 5,
    hex: '62 04 00 03 92 00',
    packet: parsed('pubrel', 4, {qos: 1, messageId: 3, reasonCode: 0x92}),
  },
  {name: 'PUBCOMP 5 success', version: 5, hex: '70 02 00 04', packet: parsed('pubcomp', 2, {messageId: 4, reasonCode: 0})},
  {
    name: 'SUBSCRIBE 3.1.1 three filters',
    version: 4,
    hex: '82 10 00 0a 00 03 61 2f 2b 01 00 01 23 02 00 01 62 00',
    packet: parsed('subscribe', 16, {
      qos: 1,
      messageId: 10,
      subscriptions: [
        {topic: 'a/+', qos: 1},
        {topic: '#', qos: 2},
        {topic: 'b', qos: 0},
      ],
    }),
  },
  {
    name: 'SUBSCRIBE 5 with nl/rap/rh options and subscription identifier',
    version: 5,
    hex: '82 13 00 0b 02 0b 07 00 03 63 2f 64 2d 00 01 65 10 00 01 66 0a',
    packet: parsed('subscribe', 19, {
      qos: 1,
      messageId: 11,
      properties: {subscriptionIdentifier: 7},
      subscriptions: [
        {topic: 'c/d', qos: 1, nl: true, rap: true, rh: 2},
        {topic: 'e', qos: 0, nl: false, rap: false, rh: 1},
        {topic: 'f', qos: 2, nl: false, rap: true, rh: 0},
      ],
    }),
  },
  {
    name: 'SUBACK 3.1.1 with a failure',
    version: 4,
    hex: '90 05 00 0a 01 02 80',
    packet: parsed('suback', 5, {messageId: 10, granted: [1, 2, 0x80]}),
  },
  {
    name: 'SUBACK 5 with reason string',
    version: 5,
    hex: '90 0a 00 0b 05 1f 00 02 6f 6b 01 00',
    packet: parsed('suback', 10, {messageId: 11, granted: [1, 0], properties: {reasonString: 'ok'}}),
  },
  {
    name: 'UNSUBSCRIBE 3.1.1',
    version: 4,
    hex: 'a2 0a 00 0c 00 03 61 2f 62 00 01 23',
    packet: parsed('unsubscribe', 10, {qos: 1, messageId: 12, unsubscriptions: ['a/b', '#']}),
  },
  {
    name: 'UNSUBSCRIBE 5',
    version: 5,
    hex: 'a2 06 00 0d 00 00 01 78',
    packet: parsed('unsubscribe', 6, {qos: 1, messageId: 13, unsubscriptions: ['x']}),
  },
  {name: 'UNSUBACK 3.1.1', version: 4, hex: 'b0 02 00 0c', packet: parsed('unsuback', 2, {messageId: 12})},
  {
    name: 'UNSUBACK 5 with two reason codes',
    version: 5,
    hex: 'b0 05 00 0d 00 00 11',
    packet: parsed('unsuback', 5, {messageId: 13, granted: [0, 0x11]}),
  },
  {name: 'PINGREQ', version: 4, hex: 'c0 00', packet: parsed('pingreq', 0)},
  {name: 'PINGRESP', version: 4, hex: 'd0 00', packet: parsed('pingresp', 0)},
  {name: 'DISCONNECT 3.1', version: 3, hex: 'e0 00', packet: parsed('disconnect', 0)},
  {name: 'DISCONNECT 3.1.1', version: 4, hex: 'e0 00', packet: parsed('disconnect', 0)},
  {
    name: 'DISCONNECT 5 with reason code',
    version: 5,
    hex: 'e0 02 8e 00',
    packet: parsed('disconnect', 2, {reasonCode: 0x8e}),
  },
  {
    name: 'DISCONNECT 5 with will, session expiry property',
    version: 5,
    hex: 'e0 07 04 05 11 00 00 00 00',
    packet: parsed('disconnect', 7, {reasonCode: 0x04, properties: {sessionExpiryInterval: 0}}),
  },
  {
    name: 'AUTH 5 continue authentication',
    version: 5,
    hex: 'f0 0a 18 08 15 00 01 78 16 00 01 01',
    packet: parsed('auth', 10, {reasonCode: 0x18, properties: {authenticationMethod: 'x', authenticationData: Buffer.from([1])}}),
  },
]

/**
 * Encodings MQTT 5 allows to shorten (property length, or reason code and property length,
 * omitted). The decoder must accept them; mqtt-packet writes the long form.
 */
const SHORT_FORMS: Array<Fixture & {long: string}> = [
  {
    name: 'CONNACK 5 without property length',
    version: 5,
    hex: '20 02 00 00',
    long: '20 03 00 00 00',
    packet: parsed('connack', 2, {sessionPresent: false, reasonCode: 0}),
  },
  {
    name: 'PUBACK 5 reason code without property length',
    version: 5,
    hex: '40 03 00 01 10',
    long: '40 04 00 01 10 00',
    packet: parsed('puback', 3, {messageId: 1, reasonCode: 0x10}),
  },
  {
    name: 'PUBREL 5 reason code without property length',
    version: 5,
    hex: '62 03 00 03 92',
    long: '62 04 00 03 92 00',
    packet: parsed('pubrel', 3, {qos: 1, messageId: 3, reasonCode: 0x92}),
  },
  {
    name: 'DISCONNECT 5 reason code without property length',
    version: 5,
    hex: 'e0 01 8e',
    long: 'e0 02 8e 00',
    packet: parsed('disconnect', 1, {reasonCode: 0x8e}),
  },
  {
    name: 'DISCONNECT 5 with Remaining Length 0',
    version: 5,
    hex: 'e0 00',
    long: 'e0 02 00 00',
    packet: parsed('disconnect', 0, {reasonCode: 0}),
  },
]

// ---- tests --------------------------------------------------------------------------------

describe('codec', () => {
  describe('fixtures: parse, generate, mirror, any split', () => {
    for (const f of FIXTURES) {
      describe(f.name, () => {
        const bytes = hex(f.hex)

        it('parses to the expected packet', () => {
          assert.deepEqual(decodeChunks([bytes], f.version), [['packet', f.packet]])
        })

        it('generates the exact bytes', () => {
          assert.equal(encode(f.packet as unknown as Packet, f.version).toString('hex'), bytes.toString('hex'))
        })

        it('mirrors: generate(parse(bytes)) == bytes', () => {
          const events = decodeChunks([bytes], f.version)
          assert.equal(events.length, 1)
          const [kind, packet] = events[0]
          assert.equal(kind, 'packet')
          assert.equal(encode(packet as unknown as Packet, f.version).toString('hex'), bytes.toString('hex'))
        })

        it('parses the same when fed byte by byte', () => {
          assert.deepEqual(decodeChunks(byteByByte(bytes), f.version), [['packet', f.packet]])
        })

        it('parses the same in random splits', () => {
          const rand = prng(SEED)
          for (let round = 0; round < 25; round++) {
            const chunks = randomSplit(bytes, rand)
            assert.deepEqual(decodeChunks(chunks, f.version), [['packet', f.packet]], `split ${chunks.map((c) => c.length)} ${seedNote}`)
          }
        })
      })
    }
  })

  describe('short MQTT 5 forms', () => {
    for (const f of SHORT_FORMS) {
      it(`${f.name}: parses, and generates the long form`, () => {
        const bytes = hex(f.hex)
        assert.deepEqual(decodeChunks([bytes], f.version), [['packet', f.packet]])
        assert.deepEqual(decodeChunks(byteByByte(bytes), f.version), [['packet', f.packet]])
        assert.equal(encode(f.packet as unknown as Packet, f.version).toString('hex'), hex(f.long).toString('hex'))
        assert.deepEqual(decodeChunks([hex(f.long)], f.version), [['packet', {...f.packet, length: hex(f.long).length - 2}]])
      })

      it(`${f.name}: a packet after it in the same chunk does not change it`, () => {
        const events = decodeChunks([Buffer.concat([hex(f.hex), hex('c0 00')])], f.version)
        assert.deepEqual(events, [
          ['packet', f.packet],
          ['packet', parsed('pingreq', 0)],
        ])
      })
    }
  })

  describe('several packets in one chunk', () => {
    for (const version of [3, 4, 5] as const) {
      it(`MQTT ${version === 3 ? '3.1' : version === 4 ? '3.1.1' : '5'}: all fixtures concatenated, whole and in random splits`, () => {
        const fixtures = FIXTURES.filter((f) => f.version === version)
        const all = Buffer.concat(fixtures.map((f) => hex(f.hex)))
        const expected = fixtures.map((f): Event => ['packet', f.packet])
        assert.deepEqual(decodeChunks([all], version), expected)
        assert.deepEqual(decodeChunks(byteByByte(all), version), expected)
        const rand = prng(SEED + version)
        for (let round = 0; round < 50; round++) {
          assert.deepEqual(decodeChunks(randomSplit(all, rand), version), expected, seedNote)
        }
      })
    }

    it('a decoder without a version learns MQTT 5 from CONNECT and parses v5 properties after it', () => {
      const connect = FIXTURES.find((f) => f.name.startsWith('CONNECT 5'))!
      const publish = FIXTURES.find((f) => f.name === 'PUBLISH 5 QoS 1 with properties')!
      const sink = new Recorder()
      const decoder = new Decoder(sink, NO_LIMIT)
      assert.equal(decoder.protocolVersion, undefined)
      decoder.write(Buffer.concat([hex(connect.hex), hex(publish.hex)]))
      assert.equal(decoder.protocolVersion, 5)
      assert.deepEqual(sink.events, [
        ['packet', connect.packet],
        ['packet', publish.packet],
      ])
    })

    it('the protocolVersion setter changes how later packets are parsed', () => {
      const sink = new Recorder()
      const decoder = new Decoder(sink, NO_LIMIT, 4)
      decoder.protocolVersion = 5
      assert.equal(decoder.protocolVersion, 5)
      decoder.write(hex('30 05 00 01 74 00 70'))
      assert.deepEqual(sink.events, [['packet', parsed('publish', 5, {topic: 't', payload: Buffer.from('p')})]])
    })
  })

  describe('maxPacketSize', () => {
    /** A QoS 0 PUBLISH to "t" whose whole encoding is `total` bytes (total < 130). */
    function publishOfSize(total: number): Buffer {
      const remaining = total - 2
      return Buffer.concat([Buffer.from([0x30, remaining, 0x00, 0x01, 0x74]), Buffer.alloc(remaining - 3, 0x61)])
    }

    it('a packet exactly at the limit passes', () => {
      const events = decodeChunks([publishOfSize(100)], 4, 100)
      assert.deepEqual(events, [['packet', parsed('publish', 98, {topic: 't', payload: Buffer.alloc(95, 0x61)})]])
    })

    it('a complete packet one byte over the limit is refused with its size', () => {
      assert.deepEqual(decodeChunks([publishOfSize(101)], 4, 100), [['tooLarge', 101]])
      assert.deepEqual(decodeChunks(byteByByte(publishOfSize(101)), 4, 100), [['tooLarge', 101]])
    })

    it('refuses as soon as the header declares too much, before any payload', () => {
      const sink = new Recorder()
      const decoder = new Decoder(sink, 100, 4)
      decoder.write(hex('30'))
      decoder.write(hex('e8'))
      assert.deepEqual(sink.events, [])
      decoder.write(hex('07')) // Remaining Length 1000
      assert.deepEqual(sink.events, [['tooLarge', 1003]])
      decoder.write(Buffer.concat([hex('00 01 74'), Buffer.alloc(997, 0x61), hex('c0 00')]))
      assert.deepEqual(sink.events, [['tooLarge', 1003]])
    })

    it('refuses a header that arrives with part of its payload', () => {
      assert.deepEqual(decodeChunks([hex('30 e8 07 00 01 74 61 61')], 4, 100), [['tooLarge', 1003]])
    })

    it('refuses the largest Remaining Length the varint allows', () => {
      assert.deepEqual(decodeChunks([hex('30 ff ff ff 7f')], 4, 1024), [['tooLarge', 268_435_460]])
    })

    it('counts the Remaining Length bytes: 2-byte varint at the limit passes, one more fails', () => {
      // Remaining Length 128 takes 2 bytes: 1 + 2 + 128 = 131 bytes in all.
      const packet = Buffer.concat([hex('30 80 01 00 01 74'), Buffer.alloc(125, 0x62)])
      assert.equal(packet.length, 131)
      assert.deepEqual(decodeChunks([packet], 4, 131), [['packet', parsed('publish', 128, {topic: 't', payload: Buffer.alloc(125, 0x62)})]])
      assert.deepEqual(decodeChunks([packet], 4, 130), [['tooLarge', 131]])
      assert.deepEqual(decodeChunks([packet.subarray(0, 3)], 4, 130), [['tooLarge', 131]])
    })

    it('packets before the oversized one are delivered, nothing after it', () => {
      const events = decodeChunks([Buffer.concat([hex('c0 00'), publishOfSize(101), hex('c0 00')])], 4, 100)
      assert.deepEqual(events, [
        ['packet', parsed('pingreq', 0)],
        ['tooLarge', 101],
      ])
    })
  })

  describe('malformed input: onDecodeError once, then nothing', () => {
    const MALFORMED: Array<{name: string; version: ProtocolVersion; hex: string; error: string}> = [
      {name: 'PUBACK with reserved flags set', version: 4, hex: '41 02 00 01', error: 'Invalid header flag bits, must be 0x0 for puback packet'},
      {name: 'SUBSCRIBE with flags 0', version: 4, hex: '80 06 00 01 00 01 61 00', error: 'Invalid header flag bits, must be 0x2 for subscribe packet'},
      {name: 'PUBREL with flags 0', version: 4, hex: '60 02 00 01', error: 'Invalid header flag bits, must be 0x2 for pubrel packet'},
      {name: 'PINGREQ with a flag', version: 4, hex: 'c1 00', error: 'Invalid header flag bits, must be 0x0 for pingreq packet'},
      {name: 'PUBLISH with QoS 3', version: 4, hex: '36 03 00 01 61', error: 'Packet must not have both QoS bits set to 1'},
      {name: 'Remaining Length of 5 bytes', version: 4, hex: '30 ff ff ff ff 7f', error: 'Invalid variable byte integer'},
      {name: 'reserved packet type 0', version: 4, hex: '00 00', error: 'Not supported'},
      {name: 'CONNECT with protocol name "MQTX"', version: 4, hex: '10 0c 00 04 4d 51 54 58 04 02 00 3c 00 00', error: 'Invalid protocolId'},
      {name: 'CONNECT with protocol level 6', version: 4, hex: '10 0c 00 04 4d 51 54 54 06 02 00 3c 00 00', error: 'Invalid protocol version'},
      {name: 'CONNECT with reserved flag bit', version: 4, hex: '10 0c 00 04 4d 51 54 54 04 03 00 3c 00 00', error: 'Connect flag bit 0 must be 0, but got 1'},
      {name: 'CONNECT with a truncated client id', version: 4, hex: '10 0d 00 04 4d 51 54 54 04 02 00 3c 00 05 61', error: 'Packet too short'},
      {name: 'CONNECT with no body', version: 4, hex: '10 00', error: 'Cannot parse protocolId'},
      {name: 'PUBLISH with a truncated topic', version: 4, hex: '30 03 00 05 61', error: 'Cannot parse topic'},
      {name: 'PUBLISH with Remaining Length 0', version: 4, hex: '30 00', error: 'Cannot parse topic'},
      {name: 'SUBSCRIBE with a truncated filter', version: 4, hex: '82 05 00 01 00 05 61', error: 'Cannot parse topic'},
      {name: 'SUBSCRIBE with QoS 3', version: 4, hex: '82 06 00 01 00 01 61 03', error: 'Invalid subscribe QoS, must be <= 2'},
      {name: 'PUBLISH 5 with an unknown property', version: 5, hex: '30 06 00 01 61 02 7f 00', error: 'Unknown property'},
      {name: 'PUBACK 5 with an invalid reason code', version: 5, hex: '40 03 00 01 ff', error: 'Invalid puback reason code'},
      {name: 'AUTH in MQTT 3.1.1', version: 4, hex: 'f0 00', error: 'Not supported auth packet for this version MQTT'},
      // mqtt-packet itself reads the packet identifier past the end of these (from the next
      // packet, or as -1); the decoder must refuse them.
      {name: 'PUBACK with Remaining Length 0', version: 4, hex: '40 00', error: 'puback: the packet is shorter than its fields'},
      {name: 'PUBREL with Remaining Length 1', version: 4, hex: '62 01 00', error: 'pubrel: the packet is shorter than its fields'},
      {name: 'PUBLISH QoS 1 without packet identifier', version: 4, hex: '32 03 00 01 61', error: 'publish: the packet is shorter than its fields'},
      {name: 'PUBLISH 5 QoS 2 with a truncated identifier', version: 5, hex: '34 04 00 01 61 00', error: 'publish: the packet is shorter than its fields'},
    ]
    const FOLLOWER = hex('c0 00 c0 00 c0 00') // valid PINGREQs that must not be reported

    for (const m of MALFORMED) {
      it(m.name, () => {
        const bytes = hex(m.hex)
        const expected: Event[] = [['error', m.error]]
        assert.deepEqual(decodeChunks([Buffer.concat([bytes, FOLLOWER])], m.version), expected, 'one chunk')
        assert.deepEqual(decodeChunks([bytes, FOLLOWER, FOLLOWER], m.version), expected, 'followed by later writes')
        assert.deepEqual(decodeChunks(byteByByte(Buffer.concat([bytes, FOLLOWER])), m.version), expected, 'byte by byte')
        const withPrefix = decodeChunks([Buffer.concat([hex('c0 00'), bytes, FOLLOWER])], m.version)
        assert.deepEqual(withPrefix, [['packet', parsed('pingreq', 0)], ...expected], 'after a valid packet')
      })
    }
  })

  describe('fuzz', () => {
    const ROUNDS = 20_000
    const VALID = FIXTURES.map((f) => ({version: f.version, bytes: hex(f.hex)}))

    function randomBytes(rand: () => number): Buffer {
      const b = Buffer.alloc(randInt(rand, 48))
      for (let i = 0; i < b.length; i++) b[i] = randInt(rand, 256)
      return b
    }

    /** A valid fixture (or two) with random byte changes, truncation or garbage appended. */
    function mutated(rand: () => number): {version: ProtocolVersion; bytes: Buffer} {
      const base = VALID[randInt(rand, VALID.length)]
      let bytes = Buffer.from(rand() < 0.3 ? Buffer.concat([base.bytes, VALID[randInt(rand, VALID.length)].bytes]) : base.bytes)
      const edits = 1 + randInt(rand, 3)
      for (let e = 0; e < edits && bytes.length > 0; e++) {
        const at = randInt(rand, bytes.length)
        const op = randInt(rand, 4)
        if (op === 0) bytes[at] = randInt(rand, 256)
        else if (op === 1) bytes[at] ^= 1 << randInt(rand, 8)
        else if (op === 2) bytes = bytes.subarray(0, at)
        else bytes = Buffer.concat([bytes, randomBytes(rand)])
      }
      return {version: base.version, bytes}
    }

    /** At most one terminal event (error or tooLarge), and it comes last. */
    function assertWellFormed(events: Event[], note: string): void {
      const terminal = events.findIndex(([kind]) => kind !== 'packet')
      if (terminal !== -1) assert.equal(terminal, events.length - 1, `events after a terminal one: ${note}`)
    }

    function withoutMessages(events: Event[]): Event[] {
      return events.map((e): Event => (e[0] === 'error' ? ['error', ''] : e))
    }

    it(`${ROUNDS} random and mutated inputs in random splits never throw and report consistently`, () => {
      const rand = prng(SEED)
      for (let round = 0; round < ROUNDS; round++) {
        const input = rand() < 0.5 ? {version: ([3, 4, 5] as const)[randInt(rand, 3)], bytes: randomBytes(rand)} : mutated(rand)
        const note = `round ${round}, version ${input.version}, bytes ${input.bytes.toString('hex')} ${seedNote}`
        const chunks = randomSplit(input.bytes, rand)
        let whole: Event[] = []
        let split: Event[] = []
        let limited: Event[] = []
        try {
          whole = decodeChunks([input.bytes], input.version)
          split = decodeChunks(chunks, input.version)
          limited = decodeChunks(chunks, input.version, 32)
        } catch (error) {
          assert.fail(`write() threw ${(error as Error).stack}: ${note}`)
        }
        assertWellFormed(whole, note)
        assertWellFormed(limited, note)
        // Where the bytes are cut must not change what is decoded (an error's wording may:
        // mqtt-packet can notice a short packet at different fields).
        assert.deepEqual(withoutMessages(split), withoutMessages(whole), `split ${chunks.map((c) => c.length)}: ${note}`)
        for (const [kind, value] of limited) {
          if (kind === 'packet') assert.ok((value.length as number) + 2 <= 32, `packet over the limit delivered: ${note}`)
          if (kind === 'tooLarge') assert.ok(value > 32, `tooLarge(${value}) within the limit: ${note}`)
        }
      }
    })
  })
})
