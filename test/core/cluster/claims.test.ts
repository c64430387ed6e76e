import assert from 'node:assert/strict'
import {Claims} from '../../../src/core/cluster/claims.js'

describe('cluster: client id claims', () => {
  it('a node holding a client id yields to a later claim from another node', () => {
    const a = new Claims('a', 'a~1')
    const b = new Claims('b', 'b~1')
    a.make('c1', 1000)
    assert.equal(a.yields(b.make('c1', 2000)), true)
    // Taken: a second claim finds nothing here.
    assert.equal(a.yields(b.make('c1', 3000)), false)
  })

  it('a node whose client left (or that never had it) ignores a claim', () => {
    const a = new Claims('a', 'a~1')
    const b = new Claims('b', 'b~1')
    assert.equal(a.yields(b.make('c2', 1000)), false)
    a.make('c3', 1000)
    a.release('c3')
    assert.equal(a.yields(b.make('c3', 2000)), false)
  })

  it('two claims at once: exactly one node keeps the client (the later claim, then the larger instance id)', () => {
    for (const [ta, tb] of [
      [1000, 1001],
      [1001, 1000],
      [1000, 1000],
    ]) {
      const a = new Claims('a', 'a~1')
      const b = new Claims('b', 'b~1')
      const ca = a.make('c1', ta)
      const cb = b.make('c1', tb)
      const aYields = a.yields(cb)
      const bYields = b.yields(ca)
      assert.notEqual(aYields, bYields, `claims at ${ta} and ${tb}: one node yields, the other keeps`)
    }
  })

  it('ignores its own claims and malformed ones', () => {
    const a = new Claims('a', 'a~1')
    assert.equal(a.yields(a.make('c1', 1)), false)
    assert.equal(a.yields({id: 5, t: 1} as never), false)
    assert.equal(a.yields(null as never), false)
  })
})
