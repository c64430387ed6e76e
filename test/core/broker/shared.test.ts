import assert from 'node:assert/strict'
import {Session} from '../../../src/core/broker/session.js'
import {newSessionState} from '../../../src/core/broker/session-state.js'
import type {SubscriptionOptions} from '../../../src/core/broker/session-state.js'
import {SharedGroup} from '../../../src/core/broker/shared.js'
import type {ClientConnection} from '../../../src/core/broker/connection.js'
import {ConnState} from '../../../src/core/broker/types.js'

const OPTS: SubscriptionOptions = {qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0}

function member(id: string, isOnline: boolean): Session {
  const s = new Session(newSessionState(id, 0))
  if (isOnline) s.client = {state: ConnState.Connected} as ClientConnection
  return s
}

function picks(g: SharedGroup, strategy: 'round-robin' | 'random' | 'sticky', n: number, exclude?: Session): string[] {
  return Array.from({length: n}, () => g.pick(strategy, exclude)?.clientId ?? '-')
}

describe('SharedGroup.pick', () => {
  it('round-robin over the online members, skipping offline ones', () => {
    const g = new SharedGroup('g', 't')
    for (const [id, on] of [
      ['a', true],
      ['b', false],
      ['c', true],
    ] as const)
      g.add(member(id, on), OPTS)
    assert.deepEqual(picks(g, 'round-robin', 5), ['a', 'c', 'a', 'c', 'a'])
  })

  it('an offline member only when none is online; nobody when the group is empty or only the excluded one is left', () => {
    const g = new SharedGroup('g', 't')
    assert.equal(g.pick('round-robin'), undefined)
    const a = member('a', false)
    const b = member('b', false)
    g.add(a, OPTS)
    g.add(b, OPTS)
    assert.deepEqual(picks(g, 'round-robin', 3), ['a', 'b', 'a'])
    assert.deepEqual(picks(g, 'round-robin', 2, a), ['b', 'b'])
    g.remove(b)
    assert.equal(g.pick('round-robin', a), undefined)
  })

  it('sticky keeps the same online member until it goes offline or leaves', () => {
    const g = new SharedGroup('g', 't')
    const a = member('a', true)
    const b = member('b', true)
    g.add(a, OPTS)
    g.add(b, OPTS)
    assert.deepEqual(picks(g, 'sticky', 4), ['a', 'a', 'a', 'a'])
    a.client = undefined
    assert.deepEqual(picks(g, 'sticky', 3), ['b', 'b', 'b'])
    a.client = {state: ConnState.Connected} as ClientConnection
    assert.deepEqual(picks(g, 'sticky', 2), ['b', 'b'], 'the returning member does not take over')
    g.remove(b)
    assert.deepEqual(picks(g, 'sticky', 2), ['a', 'a'])
  })

  it('random picks only online members and reaches all of them', () => {
    const g = new SharedGroup('g', 't')
    for (const [id, on] of [
      ['a', true],
      ['b', false],
      ['c', true],
      ['d', true],
    ] as const)
      g.add(member(id, on), OPTS)
    const got = picks(g, 'random', 300)
    assert.ok(!got.includes('b'))
    assert.deepEqual([...new Set(got)].sort(), ['a', 'c', 'd'])
  })

  it('removing a member keeps the round-robin order of the others', () => {
    const g = new SharedGroup('g', 't')
    const [a, b, c] = ['a', 'b', 'c'].map((id) => member(id, true))
    for (const s of [a, b, c]) g.add(s, OPTS)
    assert.deepEqual(picks(g, 'round-robin', 2), ['a', 'b'])
    assert.equal(g.remove(b), true)
    assert.equal(g.remove(b), false)
    assert.deepEqual(picks(g, 'round-robin', 3), ['c', 'a', 'c'])
    assert.equal(g.size, 2)
  })
})
