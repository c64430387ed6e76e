import assert from 'node:assert/strict'
import {Claims} from '../../../src/core/cluster/claims.js'

describe('cluster: client id claims', () => {
  it('a node holding a client id yields to a later claim from another node', () => {
    const a = new Claims('a', 'a~1')
    const b = new Claims('b', 'b~1')
    a.make('c1', 1000)
    assert.equal(a.yields(b.make('c1', 2000), 2000), true)
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
      const aYields = a.yields(cb, 1002)
      const bYields = b.yields(ca, 1002)
      assert.notEqual(aYields, bYields, `claims at ${ta} and ${tb}: one node yields, the other keeps`)
    }
  })

  it('ignores its own claims and malformed ones', () => {
    const a = new Claims('a', 'a~1')
    assert.equal(a.yields(a.make('c1', 1), 2), false)
    assert.equal(a.yields({id: 5, t: 1} as never, 2), false)
    assert.equal(a.yields(null as never, 2), false)
  })
})
