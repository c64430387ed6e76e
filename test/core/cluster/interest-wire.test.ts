import assert from 'node:assert/strict'
import {PART_BYTES, parseAnnouncement, parts} from '../../../src/core/cluster/interest-wire.js'

const json = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v))

describe('cluster: interest announcements (interest-wire.ts)', () => {
  it('reads the four kinds', () => {
    assert.deepEqual(parseAnnouncement(json({k: 'd', i: 'n~1', n: 'n', s: 3, c: ['+a/#', '-b']})), {k: 'd', i: 'n~1', n: 'n', s: 3, c: ['+a/#', '-b']})
    assert.equal(parseAnnouncement(json({k: 's', i: 'n~1', n: 'n', s: 0, f: [], first: true, last: true}))?.k, 's')
    assert.equal(parseAnnouncement(json({k: 'b', i: 'n~1', n: 'n'}))?.k, 'b')
    assert.equal(parseAnnouncement(json({k: 'q', i: 'n~1', n: 'n', to: '*'}))?.k, 'q')
  })

  it('reads nothing from what is not an announcement of this version (counted as malformed by the caller)', () => {
    for (const bad of [
      Buffer.from('not json'),
      json(null),
      json([1]),
      json({k: 'd', i: '', n: 'n', s: 1, c: []}),
      json({k: 'd', i: 'n~1', n: 'n', s: 1.5, c: []}),
      json({k: 'd', i: 'n~1', n: 'n', s: 1, c: ['a/b']}),
      json({k: 'd', i: 'n~1', n: 'n', s: 1, c: [7]}),
      json({k: 's', i: 'n~1', n: 'n', s: 1, f: ['a'], first: true}),
      json({k: 'q', i: 'n~1', n: 'n'}),
      json({k: 'x', i: 'n~1', n: 'n'}),
      json({k: 'b', n: 'n'}),
    ]) {
      assert.equal(parseAnnouncement(bad), undefined, Buffer.from(bad).toString())
    }
  })

  it('splits long lists into parts under NATS\u2019s default max_payload, every item kept in order', () => {
    const items = Array.from({length: 20_000}, (_, i) => `sensors/${i}/+/temperature`)
    const split = parts(items)
    assert.ok(split.length > 1)
    assert.deepEqual(split.flat(), items)
    for (const p of split) assert.ok(Buffer.byteLength(JSON.stringify(p)) <= PART_BYTES + 100)
    assert.deepEqual(parts([]), [[]])
    const huge = 'x'.repeat(65_535)
    assert.deepEqual(parts([huge, 'a']), [[huge], ['a']])
  })
})
