import assert from 'node:assert/strict'
import {decodeEnvelope, encodeEnvelope} from '../../../src/core/cluster/envelope.js'
import type {EnvelopeMeta} from '../../../src/core/cluster/envelope.js'
import type {Message} from '../../../src/core/broker/message.js'

const origin = Buffer.from('node-a~abc123')

describe('cluster: message envelope', () => {
  it('carries QoS, retain, origin, sequence and payload; the topic comes from the subject', () => {
    const m: Message = {cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 2, retain: true, dup: false}
    const buf = encodeEnvelope(m, origin, 123456789, false, 0)
    const meta: EnvelopeMeta = {origin: '', seq: 0}
    const got = decodeEnvelope(buf, 'a/b', meta, 0)!
    assert.equal(got.topic, 'a/b')
    assert.equal(got.qos, 2)
    assert.equal(got.retain, true)
    assert.equal(got.payload.toString(), 'hello')
    assert.equal(got.properties, undefined)
    assert.deepEqual(meta, {origin: 'node-a~abc123', seq: 123456789})
    assert.ok(buf.length < 5 + 3 + origin.length + 6 + 1, `compact: ${buf.length} bytes`)
  })

  it('carries MQTT 5 properties (not the subscription id or alias), the expiry left, and the topic when asked', () => {
    const m: Message = {
      cmd: 'publish',
      topic: 'x'.repeat(5000),
      payload: Buffer.alloc(0),
      qos: 1,
      retain: false,
      dup: false,
      properties: {contentType: 'a/b', correlationData: Buffer.from([0, 255]), userProperties: {k: ['1', '2']}, subscriptionIdentifier: 7, messageExpiryInterval: 30},
      expiresAt: 10_000,
    }
    const meta: EnvelopeMeta = {origin: '', seq: 0}
    const got = decodeEnvelope(encodeEnvelope(m, origin, 1, true, 4_000), undefined, meta, 100_000)!
    assert.equal(got.topic, m.topic)
    assert.equal(got.expiresAt, 106_000)
    assert.deepEqual(got.properties, {contentType: 'a/b', correlationData: Buffer.from([0, 255]), userProperties: {k: ['1', '2']}, messageExpiryInterval: 30})
    assert.equal(got.payload.length, 0)
  })

  it('carries when a retained message was stored and who published it', () => {
    const m: Message = {cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: true, dup: false, storedAt: 1_796_000_000_000, publisher: 'sensor-\u00e9'}
    const got = decodeEnvelope(encodeEnvelope(m, origin, 0, false, 0), 't', {origin: '', seq: 0}, 0)!
    assert.equal(got.storedAt, 1_796_000_000_000)
    assert.equal(got.publisher, 'sensor-\u00e9')
    assert.equal(got.payload.toString(), 'x')
  })

  it('reads nothing from an envelope of another version or too short', () => {
    const meta: EnvelopeMeta = {origin: '', seq: 0}
    assert.equal(decodeEnvelope(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 't', meta, 0), undefined)
    assert.equal(decodeEnvelope(Buffer.from([1, 0]), 't', meta, 0), undefined)
    // Cut short anywhere: never a throw, never a message.
    const whole = encodeEnvelope({cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: {contentType: 'x'}}, origin, 1, true, 0)
    for (let n = 0; n < whole.length; n++) assert.equal(decodeEnvelope(whole.subarray(0, n), undefined, meta, 0), undefined, `cut at ${n}`)
  })
})
