/** Decoder.topicAt: a topic published again comes back as the same string; any other topic decodes afresh. */
import assert from 'node:assert/strict'
import {Decoder, encode} from '../../../src/core/protocol/codec.js'
import type {IPublishPacket} from '../../../src/core/protocol/codec.js'

function topicsOf(topics: string[]): string[] {
  const out: string[] = []
  const d = new Decoder({onPacket: (p) => out.push((p as IPublishPacket).topic), onDecodeError: (m) => assert.fail(m), onPacketTooLarge: () => assert.fail('too large')}, 1e6, 4)
  for (const t of topics) d.write(encode({cmd: 'publish', topic: t, payload: 'x', qos: 0, retain: false, dup: false}, 4))
  return out
}

describe('Decoder: topic reuse', () => {
  it('returns the very same string for the same bytes, and the right string after any change', () => {
    const long = `l/${'x'.repeat(200)}`
    const input = ['a/b', 'a/b', 'a/c', 'a/b', 'é/ü', 'é/ü', long, long, 'a/b', 'a/bb', 'a/b']
    const got = topicsOf(input)
    assert.deepEqual(got, input)
    assert.ok(Object.is(got[0], got[1]), 'same bytes, same string')
    assert.ok(Object.is(got[4], got[5]), 'also for UTF-8 topics')
  })

  it('does not mix up topics of the same length that differ in one byte', () => {
    const input = Array.from({length: 50}, (_, i) => `s/${String.fromCharCode(97 + (i % 26))}`)
    assert.deepEqual(topicsOf(input), input)
  })
})
