/**
 * Broker contract, malformed and illegal packets: each closes only the offending
 * connection (MQTT 5: after DISCONNECT with the right reason code), and a bystander
 * client keeps being served throughout.
 */
import assert from 'node:assert/strict'
import {DEFAULTS} from '../../src/core/config.js'
import {SCHEMES, startBroker} from '../helpers/broker.js'
import {
  Tracker,
  VERSIONS,
  connectWire,
  expectViolation,
  headerOnly,
  openJs,
  openWire,
  rawPublish,
  uid,
  useSuiteBroker,
  versionLabel,
  versionOptions,
} from '../helpers/contract.js'
import type {JsClient, Version} from '../helpers/contract.js'
import {hex} from '../helpers/raw.js'

const MALFORMED = 0x81
const PROTOCOL_ERROR = 0x82
const TOPIC_NAME_INVALID = 0x90
const TOPIC_ALIAS_INVALID = 0x94
const PACKET_TOO_LARGE = 0x95

interface Case {
  title: string
  /** Only for this version; both when absent. */
  only?: Version
  bytes: (v: Version) => Buffer
  /** The MQTT 5 DISCONNECT reason code (the first is the one the spec names). */
  reason: number | readonly number[]
}

const v5Props = (v: Version, withProps: string, without: string): Buffer => hex(v === 5 ? withProps : without)

const CASES: Case[] = [
  {title: 'a PUBLISH with QoS 3', bytes: (v) => rawPublish(v, {topic: 'a', payload: 'x', qos: 3, id: 1}), reason: MALFORMED},
  {title: 'a Remaining Length longer than four bytes', bytes: () => hex('30 ff ff ff ff 01'), reason: MALFORMED},
  {
    title: 'a SUBSCRIBE with reserved flags 0000',
    bytes: (v) => v5Props(v, '80 07 00 01 00 00 01 61 00', '80 06 00 01 00 01 61 00'),
    reason: MALFORMED,
  },
  {title: 'a PUBREL with reserved flags 0000', bytes: () => hex('60 02 00 01'), reason: MALFORMED},
  {title: 'the reserved packet type 0', bytes: () => hex('00 00'), reason: MALFORMED},
  {title: 'an AUTH packet, which 3.1.1 does not have', only: 4, bytes: () => hex('f0 00'), reason: MALFORMED},
  {title: 'a SUBACK, which only a server sends', bytes: (v) => v5Props(v, '90 04 00 01 00 00', '90 03 00 01 00'), reason: PROTOCOL_ERROR},
  {title: 'a QoS 1 PUBLISH with packet identifier 0', bytes: (v) => rawPublish(v, {topic: 'a', payload: 'x', qos: 1, id: 0}), reason: PROTOCOL_ERROR},
  // MQTT 5 calls these a protocol error; mqtt-packet's parser already rejects them as malformed, which is tolerated.
  {title: 'a SUBSCRIBE without any topic filter', bytes: (v) => v5Props(v, '82 03 00 01 00', '82 02 00 01'), reason: [PROTOCOL_ERROR, MALFORMED]},
  {title: 'an UNSUBSCRIBE without any topic filter', bytes: (v) => v5Props(v, 'a2 03 00 01 00', 'a2 02 00 01'), reason: [PROTOCOL_ERROR, MALFORMED]},
  {
    title: 'a PUBLISH carrying a subscription identifier',
    only: 5,
    bytes: (v) => rawPublish(v, {topic: 'a', payload: 'x', props: hex('0b 01')}),
    reason: PROTOCOL_ERROR,
  },
  {title: 'an AUTH packet when no authentication method was agreed', only: 5, bytes: () => hex('f0 02 18 00'), reason: PROTOCOL_ERROR},
  {title: 'a PUBLISH with an empty topic and no topic alias', bytes: (v) => rawPublish(v, {topic: '', payload: 'x'}), reason: PROTOCOL_ERROR},
  {title: 'a PUBLISH to "a/+"', bytes: (v) => rawPublish(v, {topic: 'a/+', payload: 'x'}), reason: TOPIC_NAME_INVALID},
  {title: 'a PUBLISH to "a/#"', bytes: (v) => rawPublish(v, {topic: 'a/#', payload: 'x', qos: 1, id: 3}), reason: TOPIC_NAME_INVALID},
  {
    title: 'a PUBLISH with topic alias 11 (above the Topic Alias Maximum of 10)',
    only: 5,
    bytes: (v) => rawPublish(v, {topic: 'a', payload: 'x', props: hex('23 00 0b')}),
    reason: TOPIC_ALIAS_INVALID,
  },
  {
    title: 'a PUBLISH header declaring more than maxPacketSize (no body sent)',
    bytes: () => headerOnly(0x30, DEFAULTS.limits.maxPacketSize + 1),
    reason: PACKET_TOO_LARGE,
  },
]

/** A QoS 1 PUBLISH of exactly `size` bytes on the wire. */
function publishOfSize(version: Version, topic: string, size: number, id: number): Buffer {
  for (let payload = size; payload >= 0; payload--) {
    const p = rawPublish(version, {topic, payload: Buffer.alloc(payload, 0x61), qos: 1, id})
    if (p.length === size) return p
  }
  throw new Error(`no PUBLISH of ${size} bytes on ${topic}`)
}

for (const scheme of SCHEMES) {
  for (const version of VERSIONS) {
    const v5 = version === 5

    describe(`malformed and illegal packets over ${scheme}, MQTT ${versionLabel(version)}`, function () {
      const bystanders = new Tracker()
      // Registered before the suite broker's after(), so the bystander leaves while the broker still runs.
      after(() => bystanders.closeAll())
      const suite = useSuiteBroker()
      const {t} = suite
      let bystander: JsClient
      const aliveTopic = uid('alive')
      let n = 0

      /** The bystander still gets its own message through the broker. */
      async function alive(): Promise<void> {
        const text = `ping ${++n}`
        await bystander.client.publishAsync(aliveTopic, text, {qos: 1})
        assert.equal((await bystander.inbox.one()).payload.toString(), text, 'the bystander is still served')
      }

      before(async () => {
        bystander = await openJs(bystanders, suite.tb.urls[scheme], {clientId: uid('bystander'), ...versionOptions(version)})
        await bystander.client.subscribeAsync(aliveTopic, {qos: 1})
      })

      for (const c of CASES) {
        if (c.only !== undefined && c.only !== version) continue
        const codes = typeof c.reason === 'number' ? [c.reason] : c.reason
        const how = v5 ? `DISCONNECT ${codes.map((r) => `0x${r.toString(16)}`).join(' or ')}, then close` : 'close'
        it(`${c.title} → ${how}`, async function () {
          const {wire} = await connectWire(t, suite.tb, scheme, version)
          wire.send(c.bytes(version))
          await expectViolation(wire, c.reason)
          await alive()
        })
      }

      it(`refuses a CONNECT whose declared Remaining Length exceeds maxPacketSize from its header and protocol level${v5 ? ' (CONNACK 0x95)' : ''}`, async function () {
        const wire = await openWire(t, suite.tb, scheme, version)
        // Only the fixed header and the 7 bytes that carry the protocol level: the body is never needed.
        wire.send(Buffer.concat([headerOnly(0x10, 2 * 1024 * 1024), Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, version])]))
        await wire.closed()
        assert.equal(wire.peer.received().toString('hex'), v5 ? '2003009500' : '', v5 ? 'CONNACK 0x95, then the close' : 'nothing is sent before CONNECT succeeded')
        await alive()
      })

      it(`accepts a packet of exactly maxPacketSize and refuses one byte more${v5 ? ' (0x95)' : ''}`, async function () {
        const small = await startBroker({limits: {maxPacketSize: 256}})
        try {
          const topic = uid('big')
          const {wire} = await connectWire(t, small, scheme, version)
          const exact = publishOfSize(version, topic, 256, 1)
          wire.send(exact)
          assert.equal((await wire.expect('puback')).messageId, 1)
          const over = publishOfSize(version, topic, 257, 2)
          // Header and body in two writes, so that a WebSocket frame stays within the limit too.
          wire.send(over.subarray(0, 8))
          wire.send(over.subarray(8))
          await expectViolation(wire, PACKET_TOO_LARGE)
        } finally {
          t.closeAll()
          await small.close()
        }
      })
    })
  }
}
