import assert from 'node:assert/strict'
import {MATCH_CACHE_TOPICS, Router} from '../../../src/core/broker/router.js'

type Visit = [subscriber: string, options: number]

/** Every (subscriber, options) visited for `topic`, sorted so the order of the walk does not matter. */
function matches(router: Router<string, number>, topic: string): Visit[] {
  const out: Visit[] = []
  router.match(topic, (acc, s, o) => acc.push([s, o]), out)
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]))
}

describe('Router', () => {
  it('add returns true for a new subscription and counts it', () => {
    const router = new Router<string, number>()
    assert.equal(router.size, 0)
    assert.equal(router.add('a/b', 'alice', 1), true)
    assert.equal(router.add('a/+', 'alice', 1), true)
    assert.equal(router.add('a/b', 'bob', 2), true)
    assert.equal(router.size, 3)
    assert.deepEqual(matches(router, 'a/b'), [
      ['alice', 1],
      ['alice', 1],
      ['bob', 2],
    ])
  })

  it('adding the same subscriber and filter again replaces the options', () => {
    const router = new Router<string, number>()
    for (const filter of ['a/b', 'a/+', 'a/#']) {
      assert.equal(router.add(filter, 's', 0), true)
      assert.equal(router.add(filter, 's', 2), false)
    }
    assert.equal(router.size, 3)
    assert.deepEqual(matches(router, 'a/b'), [
      ['s', 2],
      ['s', 2],
      ['s', 2],
    ])
  })

  it('remove returns whether the subscription existed', () => {
    const router = new Router<string, number>()
    router.add('a/b', 's', 0)
    router.add('a/+', 's', 0)
    assert.equal(router.remove('a/b', 'other'), false)
    assert.equal(router.remove('a/+', 'other'), false)
    assert.equal(router.remove('a/c', 's'), false)
    assert.equal(router.remove('a/#', 's'), false)
    assert.equal(router.remove('+/b', 's'), false)
    assert.equal(router.size, 2)
    assert.equal(router.remove('a/b', 's'), true)
    assert.equal(router.remove('a/b', 's'), false)
    assert.equal(router.remove('a/+', 's'), true)
    assert.equal(router.remove('a/+', 's'), false)
    assert.equal(router.size, 0)
    assert.deepEqual(matches(router, 'a/b'), [])
  })

  it('removing one subscriber keeps the others of the same filter', () => {
    const router = new Router<string, number>()
    for (const filter of ['x/y', 'x/+', 'x/#']) {
      router.add(filter, 'a', 1)
      router.add(filter, 'b', 2)
      router.remove(filter, 'a')
    }
    assert.equal(router.size, 3)
    assert.deepEqual(matches(router, 'x/y'), [
      ['b', 2],
      ['b', 2],
      ['b', 2],
    ])
  })

  it('visits both the exact and the wildcard subscribers of a topic', () => {
    const router = new Router<string, number>()
    router.add('home/kitchen/temp', 'exact', 1)
    router.add('home/+/temp', 'plus', 2)
    router.add('home/#', 'hash', 3)
    router.add('#', 'all', 4)
    router.add('home/kitchen/humidity', 'other', 5)
    router.add('home/+', 'shallow', 6)
    assert.deepEqual(matches(router, 'home/kitchen/temp'), [
      ['all', 4],
      ['exact', 1],
      ['hash', 3],
      ['plus', 2],
    ])
  })

  it('passes the ctx argument to the visitor, unchanged', () => {
    const router = new Router<string, number>()
    router.add('t', 'exact', 1)
    router.add('+', 'wild', 2)
    const ctx = {calls: 0}
    const seen: unknown[] = []
    router.match(
      't',
      (c, s, o) => {
        seen.push(c)
        c.calls++
        assert.equal(typeof s, 'string')
        assert.equal(typeof o, 'number')
      },
      ctx,
    )
    assert.equal(ctx.calls, 2)
    assert.equal(seen.length, 2)
    assert.ok(seen.every((c) => c === ctx))
  })

  it('a filter with "#" matches its parent level; "+" does not', () => {
    const router = new Router<string, number>()
    router.add('sport/#', 'hash', 0)
    router.add('sport/+', 'plus', 0)
    assert.deepEqual(matches(router, 'sport'), [['hash', 0]])
    assert.deepEqual(matches(router, 'sport/'), [
      ['hash', 0],
      ['plus', 0],
    ])
    assert.deepEqual(matches(router, 'sport/tennis/player1'), [['hash', 0]])
    assert.deepEqual(matches(router, 'sports'), [])
  })

  it('empty levels and leading separators', () => {
    const router = new Router<string, number>()
    router.add('+/+', 'pp', 0)
    router.add('/+', 'sp', 0)
    router.add('+', 'p', 0)
    router.add('a/+/b', 'apb', 0)
    router.add('a//b', 'exact', 0)
    assert.deepEqual(matches(router, '/finance'), [
      ['pp', 0],
      ['sp', 0],
    ])
    assert.deepEqual(matches(router, 'finance'), [['p', 0]])
    assert.deepEqual(matches(router, 'a//b'), [
      ['apb', 0],
      ['exact', 0],
    ])
    assert.deepEqual(matches(router, 'a/b'), [['pp', 0]])
  })

  it('leading wildcards do not match $-topics; $-filters and later wildcards do', () => {
    const router = new Router<string, number>()
    router.add('#', 'hash', 0)
    router.add('+/monitor/Clients', 'plus', 0)
    router.add('+', 'plusOnly', 0)
    router.add('$SYS/#', 'sysHash', 0)
    router.add('$SYS/monitor/+', 'sysPlus', 0)
    router.add('$SYS/monitor/Clients', 'exact', 0)
    assert.deepEqual(matches(router, '$SYS/monitor/Clients'), [
      ['exact', 0],
      ['sysHash', 0],
      ['sysPlus', 0],
    ])
    assert.deepEqual(matches(router, '$SYS'), [['sysHash', 0]])
    assert.deepEqual(matches(router, 'x/monitor/Clients'), [
      ['hash', 0],
      ['plus', 0],
    ])
    // Only the first level is special.
    router.add('a/+', 'a', 0)
    assert.deepEqual(matches(router, 'a/$x'), [
      ['a', 0],
      ['hash', 0],
    ])
  })

  it('exact subscriptions still match once the last wildcard one is removed', () => {
    const router = new Router<string, number>()
    router.add('a/b', 'exact', 0)
    router.add('a/+', 'wild', 0)
    router.remove('a/+', 'wild')
    assert.deepEqual(matches(router, 'a/b'), [['exact', 0]])
  })

  it('removing every filter prunes the trie back to an empty root', () => {
    const router = new Router<string, number>()
    const filters: string[] = []
    const words = ['a', 'b', 'c', '', '+']
    // Every filter of up to 4 levels over `words`, half of them ending in '#'.
    for (let n = 1; n <= 4; n++) {
      for (let k = 0; k < words.length ** n; k++) {
        const levels = Array.from({length: n}, (_, j) => words[Math.floor(k / words.length ** j) % words.length])
        if (k % 2 === 1) levels.push('#')
        const filter = levels.join('/')
        if (filter !== '') filters.push(filter)
      }
    }
    assert.ok(filters.length > 700)
    for (const filter of filters) {
      router.add(filter, 's1', 1)
      router.add(filter, 's2', 2)
    }
    assert.equal(router.size, filters.length * 2)
    assert.ok(matches(router, 'a/b/c').length > 0)

    for (const filter of filters) {
      assert.equal(router.remove(filter, 's1'), true, filter)
      assert.equal(router.remove(filter, 's2'), true, filter)
    }
    assert.equal(router.size, 0)
    for (const topic of ['a', 'a/b/c', '/', 'a//b', 'c/c/c/c/c']) assert.deepEqual(matches(router, topic), [], topic)
    // Internal state: no node, no exact entry and no wildcard count is left behind.
    assert.equal(router['root'].isEmpty(), true)
    assert.equal(router['exact'].size, 0)
    assert.equal(router['wildcardCount'], 0)
  })

  it('removal prunes only the branch that became empty', () => {
    const router = new Router<string, number>()
    router.add('a/b/c/+', 's', 0)
    router.add('a/b/#', 's', 0)
    router.remove('a/b/c/+', 's')
    assert.equal(router['root'].children.get('a')!.children.get('b')!.children.size, 0)
    assert.deepEqual(matches(router, 'a/b/c/d'), [['s', 0]])
    router.remove('a/b/#', 's')
    assert.equal(router['root'].isEmpty(), true)
  })

  describe('remembered wildcard matches', () => {
    it('a topic matched again sees subscriptions added, replaced and removed since', () => {
      const router = new Router<string, number>()
      router.add('s/+', 'a', 1)
      assert.deepEqual(matches(router, 's/x'), [['a', 1]])
      router.add('s/#', 'b', 2)
      assert.deepEqual(matches(router, 's/x'), [['a', 1], ['b', 2]])
      router.add('s/+', 'a', 7)
      assert.deepEqual(matches(router, 's/x'), [['a', 7], ['b', 2]])
      router.remove('s/#', 'b')
      assert.deepEqual(matches(router, 's/x'), [['a', 7]])
      router.remove('s/+', 'a')
      assert.deepEqual(matches(router, 's/x'), [])
    })

    it('an exact subscription added later is seen next to the remembered wildcard ones', () => {
      const router = new Router<string, number>()
      router.add('s/+', 'a', 1)
      assert.deepEqual(matches(router, 's/x'), [['a', 1]])
      router.add('s/x', 'c', 3)
      assert.deepEqual(matches(router, 's/x'), [['a', 1], ['c', 3]])
    })

    it('stays right past the number of topics it remembers', () => {
      const router = new Router<string, number>()
      router.add('t/+', 'a', 1)
      router.add('$SYS/#', 's', 9)
      for (let i = 0; i < MATCH_CACHE_TOPICS + 10; i++) assert.equal(matches(router, `t/${i}`).length, 1)
      assert.deepEqual(matches(router, 't/0'), [['a', 1]])
      assert.deepEqual(matches(router, '$SYS/x'), [['s', 9]])
      assert.deepEqual(matches(router, '$t/0'), [])
    })
  })
})
