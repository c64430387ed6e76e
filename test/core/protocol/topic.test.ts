import assert from 'node:assert/strict'
import {Router} from '../../../src/core/broker/router.js'
import {parseSharedFilter, topicFilterProblem, topicLimitProblem, topicMatches, topicNameProblem} from '../../../src/core/protocol/topic.js'
import {prng, seedFromEnv} from '../../helpers/random.js'

const SEED = seedFromEnv('FUZZ_SEED')

describe('topic', () => {
  describe('topicMatches: the examples of MQTT 3.1.1 and 5.0 §4.7', () => {
    // [filter, topic, matches]
    const TABLE: Array<[string, string, boolean]> = [
      // §4.7.1.2 multi-level wildcard
      ['sport/tennis/player1/#', 'sport/tennis/player1', true],
      ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
      ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
      ['sport/tennis/player1/#', 'sport/tennis/player2', false],
      ['sport/tennis/player1/#', 'sport/tennis', false],
      ['sport/#', 'sport', true],
      ['sport/#', 'sport/', true],
      ['sport/#', 'sports', false],
      ['#', 'sport', true],
      ['#', 'sport/tennis/player1', true],
      ['#', '/', true],
      ['#', '/finance', true],
      // §4.7.1.3 single-level wildcard
      ['sport/tennis/+', 'sport/tennis/player1', true],
      ['sport/tennis/+', 'sport/tennis/player2', true],
      ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
      ['sport/+', 'sport', false],
      ['sport/+', 'sport/', true],
      ['sport/+/player1', 'sport/tennis/player1', true],
      ['sport/+/player1', 'sport/player1', false],
      ['+/tennis/#', 'sport/tennis', true],
      ['+/tennis/#', 'sport/tennis/player1/ranking', true],
      ['+/tennis/#', 'sport/golf', false],
      ['+/+', '/finance', true],
      ['/+', '/finance', true],
      ['+', '/finance', false],
      ['+', 'finance', true],
      ['+', '/', false],
      ['+/+', '/', true],
      // §4.7.2 topics beginning with $
      ['#', '$SYS', false],
      ['#', '$SYS/monitor/Clients', false],
      ['+/monitor/Clients', '$SYS/monitor/Clients', false],
      ['+', '$SYS', false],
      ['$SYS/#', '$SYS/monitor/Clients', true],
      ['$SYS/#', '$SYS', true],
      ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
      ['$SYS/monitor/Clients', '$SYS/monitor/Clients', true],
      ['a/+', 'a/$b', true],
      ['a/#', 'a/$b/c', true],
      // §4.7.3 topic semantics: case, spaces, leading and trailing separators
      ['ACCOUNTS', 'Accounts', false],
      ['Accounts payable', 'Accounts payable', true],
      ['/finance', 'finance', false],
      ['finance', '/finance', false],
      ['a/', 'a', false],
      ['a', 'a/', false],
      ['a/+', 'a', false],
      ['a/+/#', 'a/b', true],
      // empty levels
      ['a//b', 'a//b', true],
      ['a//b', 'a/b', false],
      ['a/+/b', 'a//b', true],
      ['+/+/+', 'a//b', true],
      ['a/#', 'a//b', true],
      ['+//+', 'a//b', true],
      ['+/+', 'a//b', false],
      ['//', '//', true],
      ['+/+/+', '//', true],
      // literal prefixes must not match longer levels
      ['ab', 'abc', false],
      ['abc', 'ab', false],
      ['a/b', 'a/bc', false],
      ['a/bc', 'a/b', false],
      ['ü/🚀', 'ü/🚀', true],
      ['ü/+', 'ü/🚀', true],
    ]
    for (const [filter, topic, expected] of TABLE) {
      it(`"${filter}" ${expected ? 'matches' : 'does not match'} "${topic}"`, () => {
        assert.equal(topicMatches(filter, topic), expected)
      })
    }
  })

  describe('topicNameProblem', () => {
    const VALID = ['a', '/', 'a//b', '/finance', 'finance/', '$SYS/broker/load', 'Accounts payable', ' ', 'ü/🚀']
    for (const topic of VALID) {
      it(`accepts ${JSON.stringify(topic)}`, () => assert.equal(topicNameProblem(topic), undefined))
    }
    const INVALID: Array<[string, string]> = [
      ['', 'the topic is empty'],
      ['a/+', 'the topic "a/+" contains a wildcard (+ or #), which only subscriptions may use'],
      ['+', 'the topic "+" contains a wildcard (+ or #), which only subscriptions may use'],
      ['sport/#', 'the topic "sport/#" contains a wildcard (+ or #), which only subscriptions may use'],
      ['a#b', 'the topic "a#b" contains a wildcard (+ or #), which only subscriptions may use'],
      ['a\u0000b', 'the topic contains a NUL character'],
    ]
    for (const [topic, problem] of INVALID) {
      it(`refuses ${JSON.stringify(topic)}`, () => assert.equal(topicNameProblem(topic), problem))
    }
  })

  describe('topicFilterProblem', () => {
    const VALID = ['#', '+', 'sport/tennis/#', '+/tennis/#', 'sport/+/player1', '/+', '+/+', 'a//b', '$SYS/#', '/', '//', 'a/+/#', 'ü/+']
    for (const filter of VALID) {
      it(`accepts ${JSON.stringify(filter)}`, () => assert.equal(topicFilterProblem(filter), undefined))
    }
    const INVALID: Array<[string, string]> = [
      ['', 'the topic filter is empty'],
      ['sport/tennis#', '"sport/tennis#": # must be a whole level and the last one'],
      ['sport/tennis/#/ranking', '"sport/tennis/#/ranking": # must be a whole level and the last one'],
      ['#/', '"#/": # must be a whole level and the last one'],
      ['##', '"##": # must be a whole level and the last one'],
      ['sport+', '"sport+": + must be a whole level'],
      ['sport/+tennis', '"sport/+tennis": + must be a whole level'],
      ['++', '"++": + must be a whole level'],
      ['a/\u0000', 'the topic filter contains a NUL character'],
    ]
    for (const [filter, problem] of INVALID) {
      it(`refuses ${JSON.stringify(filter)}`, () => assert.equal(topicFilterProblem(filter), problem))
    }
  })

  describe('topicMatches agrees with the Router', () => {
    // A small alphabet so that random pairs often match: plain, empty and $ levels.
    const TOPIC_LEVELS = ['a', 'b', '', '$s']
    const FILTER_LEVELS = ['a', 'b', '', '$s', '+', '+']

    function pick<T>(rand: () => number, list: readonly T[]): T {
      return list[Math.floor(rand() * list.length)]
    }

    function randomTopic(rand: () => number): string {
      const n = 1 + Math.floor(rand() * 4)
      const topic = Array.from({length: n}, () => pick(rand, TOPIC_LEVELS)).join('/')
      return topic === '' ? 'a' : topic // an empty topic name is invalid
    }

    function randomFilter(rand: () => number): string {
      const n = 1 + Math.floor(rand() * 4)
      const levels = Array.from({length: n}, () => pick(rand, FILTER_LEVELS))
      if (rand() < 0.3) levels[n - 1] = '#'
      const filter = levels.join('/')
      return filter === '' ? '+' : filter // an empty filter is invalid
    }

    it('on 300 random topics against 200 random filters (60,000 pairs)', () => {
      const rand = prng(SEED)
      const filters = new Set<string>()
      for (let i = 0; filters.size < 200 && i < 10_000; i++) filters.add(randomFilter(rand))
      assert.equal(filters.size, 200)

      const router = new Router<string, number>()
      for (const filter of filters) {
        assert.equal(topicFilterProblem(filter), undefined, filter)
        router.add(filter, filter, 0)
      }

      let matched = 0
      for (let round = 0; round < 300; round++) {
        const topic = randomTopic(rand)
        const viaRouter: string[] = []
        router.match(topic, (acc, filter) => acc.push(filter), viaRouter)
        const viaTopicMatches = [...filters].filter((f) => topicMatches(f, topic))
        assert.deepEqual(viaRouter.sort(), viaTopicMatches.sort(), `topic ${JSON.stringify(topic)} (FUZZ_SEED=${SEED})`)
        matched += viaRouter.length
      }
      // Both directions are exercised: plenty of matches, and far fewer than all pairs.
      assert.ok(matched > 1000 && matched < 50_000, `matched ${matched} of 60000 pairs (FUZZ_SEED=${SEED})`)
    })
  })

  describe('parseSharedFilter', () => {
    it('splits $share/GROUP/FILTER and maps $queue/FILTER to the group "$queue"', () => {
      assert.deepEqual(parseSharedFilter('$share/g/a/+/c'), {group: 'g', filter: 'a/+/c'})
      assert.deepEqual(parseSharedFilter('$share/g/#'), {group: 'g', filter: '#'})
      assert.deepEqual(parseSharedFilter('$share/$queue/x'), {group: '$queue', filter: 'x'})
      assert.deepEqual(parseSharedFilter('$queue/a/b'), {group: '$queue', filter: 'a/b'})
    })

    it('leaves ordinary filters alone, $-topics and "$sharex" included', () => {
      for (const f of ['a/b', '#', '$SYS/#', '$sharex/g/a', 'share/g/a', '$queuex']) assert.equal(parseSharedFilter(f), undefined, f)
    })

    it('says what is wrong with a bad share name or a missing filter (MQTT-4.8.2-1/2)', () => {
      const BAD: Array<[string, RegExp]> = [
        ['$share', /\$share\/GROUP\/FILTER/],
        ['$share/g', /\$share\/GROUP\/FILTER/],
        ['$share//a', /share name .* is empty/],
        ['$share/g+/a', /must not contain \+ or #/],
        ['$share/g#/a', /must not contain \+ or #/],
        ['$share/g/', /followed by a topic filter/],
        ['$queue/', /followed by a topic filter/],
      ]
      for (const [filter, why] of BAD) {
        const r = parseSharedFilter(filter)
        assert.equal(typeof r, 'string', filter)
        assert.match(r as string, why, filter)
      }
    })
  })

  describe('topicLimitProblem', () => {
    it('counts UTF-8 bytes, not characters', () => {
      assert.equal(topicLimitProblem('a'.repeat(10), 10, 100), undefined)
      assert.match(topicLimitProblem('a'.repeat(11), 10, 100) ?? '', /11 bytes long; this broker allows at most 10/)
      assert.equal(topicLimitProblem('é'.repeat(5), 10, 100), undefined, '5 × 2 bytes')
      assert.match(topicLimitProblem('é'.repeat(6), 10, 100) ?? '', /12 bytes/)
      assert.match(topicLimitProblem('€'.repeat(4), 10, 100) ?? '', /12 bytes/)
    })

    it('counts levels: "/" separates them, empty levels count', () => {
      assert.equal(topicLimitProblem('a/b/c', 100, 3), undefined)
      assert.match(topicLimitProblem('a/b/c/d', 100, 3) ?? '', /4 levels; this broker allows at most 3/)
      assert.match(topicLimitProblem('///', 100, 3) ?? '', /4 levels/)
      assert.equal(topicLimitProblem('', 100, 1), undefined)
    })
  })
})
