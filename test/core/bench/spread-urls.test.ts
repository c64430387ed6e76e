import assert from 'node:assert/strict'
import {resolveTarget} from '../../../src/cli/bench-target.js'
import {openPublishers, openSubscribers} from '../../../src/core/bench/load-clients.js'
import type {PublisherCounters} from '../../../src/core/bench/publisher.js'
import {joinUrls, resolvePlan, urlFor, urlList} from '../../../src/core/bench/plan.js'
import {ConfigError} from '../../../src/core/errors.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'

const counters: PublisherCounters = {sent: 0, pubErrors: 0, acked: 0, fanout: 0, window: 0, inflight: 0, inflightRoom: () => 0, ahead: () => 0, park: () => {}}
const receiver = {deliver: (): void => {}}

describe('bench: several brokers of one transport (-L URL -L URL…)', () => {
  it('gives client i the URL i modulo their number; one URL is the plain case', () => {
    const urls = joinUrls(['mqtt://127.0.0.1:1883', 'mqtt://127.0.0.1:1884', 'mqtt://127.0.0.1:1885'])
    assert.deepEqual(
      Array.from({length: 7}, (_, i) => urlFor(urls, i).slice(-4)),
      ['1883', '1884', '1885', '1883', '1884', '1885', '1883'],
    )
    assert.equal(urlFor('ws://127.0.0.1:8083/mqtt', 5), 'ws://127.0.0.1:8083/mqtt')
    assert.deepEqual(urlList(joinUrls(['ws://h:1/a path', 'ws://h:2/mqtt'])), ['ws://h:1/a%20path', 'ws://h:2/mqtt'])
  })

  it('-L: several URLs of one transport are one transport; a URL given twice is a usage error', async () => {
    const t = await resolveTarget(['mqtt://127.0.0.1:1883', 'ws://127.0.0.1:8083/mqtt', 'mqtt://127.0.0.1:1884'], ['tcp'], {})
    assert.deepEqual(t.transports, ['tcp', 'ws'])
    assert.deepEqual(urlList(t.target.urls.tcp!), ['mqtt://127.0.0.1:1883', 'mqtt://127.0.0.1:1884'])
    assert.deepEqual(urlList(t.target.urls.ws!), ['ws://127.0.0.1:8083/mqtt'])
    await assert.rejects(resolveTarget(['mqtt://127.0.0.1:1883', 'mqtt://127.0.0.1:1883'], ['tcp'], {}), (e: unknown) => e instanceof ConfigError && /given twice/.test(e.message))
  })

  describe('with three brokers', () => {
    const brokers: TestBroker[] = []
    before(async () => {
      for (let i = 0; i < 3; i++) brokers.push(await startBroker())
    })
    after(async () => {
      await Promise.all(brokers.map((b) => b.close()))
    })

    /** The client ids connected to each broker, sorted. */
    const idsPerBroker = (): string[][] => brokers.map((b) => [...b.broker.clients.keys()].sort())

    for (const deflate of [false, true]) {
      it(`spreads publishers and subscribers round-robin, subscribers from the second broker (${deflate ? 'full client, --ws-deflate' : 'wire clients'})`, async () => {
        const plan = resolvePlan({scenario: 'pub', publishers: 5, wsDeflate: deflate})
        const urls = joinUrls(brokers.map((b) => b.urls.mqtt))
        const pubs = await openPublishers(plan, urls, {}, 0, 5, counters, 'p')
        const subs = await openSubscribers(plan, urls, {}, 4, 'x/#', () => receiver)
        try {
          const ids = idsPerBroker().map((list) => list.map((id) => id.replace(/-\d+-(\d+)$/, '$1')))
          assert.deepEqual(ids, [
            ['bench-sub2', 'p0', 'p3'],
            ['bench-sub0', 'bench-sub3', 'p1', 'p4'],
            ['bench-sub1', 'p2'],
          ])
        } finally {
          await Promise.all([pubs.connections.close(), subs.close()])
        }
      })
    }

    it('spreads a worker\u2019s publishers by their index in the whole run', async () => {
      const plan = resolvePlan({scenario: 'pub', publishers: 6})
      const pubs = await openPublishers(plan, joinUrls(brokers.map((b) => b.urls.mqtt)), {}, 4, 2, counters, 'w')
      try {
        assert.deepEqual(
          idsPerBroker().map((l) => l.length),
          [0, 1, 1],
          'publishers 4 and 5 of the run go to brokers 1 and 2',
        )
      } finally {
        await pubs.connections.close()
      }
    })

    it('spreads a worker\u2019s subscribers by their index in the whole run (-w: each subscriber thread opens its share)', async () => {
      const plan = resolvePlan({scenario: 'sub', subscribers: 4})
      // The second thread's share: subscribers 2 and 3 of the run, so brokers 0 and 1 (subscribers start at the second broker).
      const subs = await openSubscribers(plan, joinUrls(brokers.map((b) => b.urls.mqtt)), {}, 2, 'x/#', () => receiver, 'w', 2)
      try {
        assert.deepEqual(idsPerBroker().map((l) => l.length), [1, 1, 0])
      } finally {
        await subs.close()
      }
    })
  })
})
