/**
 * The SessionStore contract: every behaviour the broker relies on, run against each store
 * (memory now; durable ones as they come). A store under test may be reopened: a durable
 * store must read back, after commit(), exactly what the operations wrote.
 */
import assert from 'node:assert/strict'
import type {Message} from '../../../src/core/broker/message.js'
import type {Inflight, Queued, SessionState} from '../../../src/core/broker/session-state.js'
import {NEVER_EXPIRES} from '../../../src/core/broker/session-state.js'
import type {SessionStore} from '../../../src/core/broker/session-store.js'
import type {QueueLimits} from '../../../src/core/broker/queue.js'

export interface SessionStoreFixture {
  store: SessionStore
  /** The same data opened again (a durable store: a new instance on the same files); absent for a store that lives in memory only. */
  reopen?(): Promise<SessionStore>
  close(): Promise<void>
}

const LIMITS: QueueLimits = {maxQueuedMessages: 1000, maxQueuedBytes: 1 << 20, queueOverflow: 'drop-oldest'}

export function message(topic: string, payload: string, qos: 0 | 1 | 2 = 1, extra: Partial<Message> = {}): Message {
  return {cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...extra}
}

function queued(payload: string, group?: string): Queued {
  return {message: message('q/t', payload), qos: 1, retain: false, group}
}

function payloads(items: Array<{message: Message}>): string[] {
  return items.map((q) => q.message.payload.toString())
}

async function commit(store: SessionStore): Promise<void> {
  await store.commit()
}

export function sessionStoreContract(name: string, make: () => Promise<SessionStoreFixture>): void {
  describe(`SessionStore contract: ${name}`, function () {
    let f: SessionStoreFixture
    beforeEach(async () => {
      f = await make()
    })
    afterEach(async () => {
      await f.close()
    })

    /** Commits, then reads the session back as a restarted broker would. */
    async function readBack(clientId: string): Promise<SessionState | undefined> {
      await commit(f.store)
      const view = f.reopen ? await f.reopen() : f.store
      return view.load(clientId)
    }

    it('creates a session that loads back with its expiry; an unknown id loads as undefined', async function () {
      f.store.create('a', 300)
      const s = await readBack('a')
      assert.equal(s?.clientId, 'a')
      assert.equal(s?.expiryInterval, 300)
      assert.equal(s?.disconnectedAt, undefined)
      assert.equal(await f.store.load('nobody'), undefined)
      assert.equal(f.store.size, 1)
    })

    it('keeps the expiry interval (also "never") and when the client left', async function () {
      const s = f.store.create('a', 0)
      f.store.setExpiry(s, NEVER_EXPIRES)
      f.store.setDisconnectedAt(s, 1_700_000_000_123)
      const back = await readBack('a')
      assert.equal(back?.expiryInterval, NEVER_EXPIRES)
      assert.equal(back?.disconnectedAt, 1_700_000_000_123)
      f.store.setDisconnectedAt(s, undefined)
      assert.equal((await readBack('a'))?.disconnectedAt, undefined)
    })

    it('stores subscriptions with their options; a second subscribe replaces, unsubscribe says whether one existed', async function () {
      const s = f.store.create('a', 60)
      f.store.subscribe(s, 'a/+', {qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0})
      f.store.subscribe(s, '$share/g/b/#', {qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 2, subscriptionId: 7})
      f.store.subscribe(s, 'a/+', {qos: 0, noLocal: true, retainAsPublished: false, retainHandling: 1})
      assert.equal(f.store.unsubscribe(s, 'not/there'), false)
      const back = await readBack('a')
      assert.deepEqual([...back!.subscriptions!.entries()].sort(), [
        ['$share/g/b/#', {qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 2, subscriptionId: 7}],
        ['a/+', {qos: 0, noLocal: true, retainAsPublished: false, retainHandling: 1}],
      ])
      assert.equal(f.store.unsubscribe(s, 'a/+'), true)
      assert.deepEqual([...(await readBack('a'))!.subscriptions!.keys()], ['$share/g/b/#'])
    })

    it('keeps the queue in order; dequeue takes the oldest', async function () {
      const s = f.store.create('a', 60)
      for (let i = 0; i < 5; i++) f.store.enqueue(s, queued(`m${i}`), LIMITS)
      assert.equal(payloads([f.store.dequeue(s)!]).join(), 'm0')
      const back = await readBack('a')
      assert.equal(back!.queue!.length, 4)
      const rest: Queued[] = []
      const view = f.reopen ? await f.reopen() : f.store
      const state = (await view.load('a'))!
      for (let q = view.dequeue(state); q !== undefined; q = view.dequeue(state)) rest.push(q)
      assert.deepEqual(payloads(rest), ['m1', 'm2', 'm3', 'm4'])
    })

    it('bounds the queue: drop-oldest counts what it dropped, drop-newest refuses the new one', async function () {
      const s = f.store.create('a', 60)
      const small: QueueLimits = {...LIMITS, maxQueuedMessages: 2}
      assert.equal(f.store.enqueue(s, queued('m0'), small), 0)
      assert.equal(f.store.enqueue(s, queued('m1'), small), 0)
      assert.equal(f.store.enqueue(s, queued('m2'), small), 1)
      assert.equal(f.store.enqueue(s, queued('m3'), {...small, queueOverflow: 'drop-newest'}), 1)
      const back = await readBack('a')
      assert.equal(back!.dropped, 2)
      assert.deepEqual(payloads([f.store.dequeue(s)!, f.store.dequeue(s)!]), ['m1', 'm2'])
      assert.equal(f.store.dequeue(s), undefined)
    })

    it('takes queued messages of shared subscriptions out, keeping the order of the rest', async function () {
      const s = f.store.create('a', 60)
      for (const [p, g] of [['a', undefined], ['b', '$share/g/x'], ['c', undefined], ['d', '$share/g/x']] as const) f.store.enqueue(s, queued(p, g), LIMITS)
      const taken = f.store.takeQueued(s, (q) => q.group !== undefined)
      assert.deepEqual(payloads(taken), ['b', 'd'])
      assert.equal(taken[0].group, '$share/g/x')
      await commit(f.store)
      assert.deepEqual(payloads([f.store.dequeue(s)!, f.store.dequeue(s)!]), ['a', 'c'])
    })

    it('runs inflight messages through their stages: publish, then pubrel, then gone', async function () {
      const s = f.store.create('a', 60)
      const one: Inflight = {message: message('t/1', 'one', 1), qos: 1, retain: false, packetId: 1, stage: 'publish'}
      const two: Inflight = {message: message('t/2', 'two', 2), qos: 2, retain: true, subscriptionIds: [3, 9], packetId: 2, stage: 'publish'}
      f.store.inflightPut(s, one)
      f.store.inflightPut(s, two)
      f.store.inflightRelease(s, 2)
      let back = await readBack('a')
      assert.deepEqual([...back!.inflight!.keys()], [1, 2], 'in the order they were sent')
      assert.equal(back!.inflight!.get(1)!.stage, 'publish')
      const released = back!.inflight!.get(2)!
      assert.equal(released.stage, 'pubrel')
      assert.equal(released.retain, true)
      assert.deepEqual(released.subscriptionIds, [3, 9])
      assert.equal(released.message.payload.toString(), 'two')
      assert.equal(f.store.inflightAck(s, 1)?.packetId, 1)
      assert.equal(f.store.inflightAck(s, 1), undefined, 'an unknown id')
      assert.equal(f.store.inflightAck(s, 2)?.stage, 'pubrel')
      back = await readBack('a')
      assert.equal(back!.inflight?.size ?? 0, 0)
    })

    it('remembers inbound QoS 2 ids until they are released', async function () {
      const s = f.store.create('a', 60)
      f.store.awaitRelease(s, 10)
      f.store.awaitRelease(s, 11)
      assert.deepEqual([...(await readBack('a'))!.awaitingRel!].sort(), [10, 11])
      assert.equal(f.store.released(s, 10), true)
      assert.equal(f.store.released(s, 10), false)
      assert.deepEqual([...(await readBack('a'))!.awaitingRel!], [11])
    })

    it('keeps a delayed Will with when it is due, and forgets it', async function () {
      const s = f.store.create('a', 60)
      f.store.setWill(s, {message: message('will/a', 'gone', 1, {retain: true, properties: {contentType: 'text/plain'}}), dueAt: 1_700_000_005_000})
      const back = await readBack('a')
      assert.equal(back!.will!.dueAt, 1_700_000_005_000)
      assert.equal(back!.will!.message.topic, 'will/a')
      assert.equal(back!.will!.message.retain, true)
      assert.deepEqual(back!.will!.message.properties, {contentType: 'text/plain'})
      f.store.setWill(s, undefined)
      assert.equal((await readBack('a'))!.will, undefined)
    })

    it('keeps message properties and expiry of queued messages', async function () {
      const s = f.store.create('a', 60)
      const m = message('p/t', 'x', 1, {expiresAt: 1_700_000_009_000, properties: {messageExpiryInterval: 9, userProperties: {k: 'v'}, correlationData: Buffer.from([1, 2])}})
      f.store.enqueue(s, {message: m, qos: 1, retain: false}, LIMITS)
      const view = f.reopen ? (await commit(f.store), await f.reopen()) : f.store
      const q = view.dequeue((await view.load('a'))!)!
      assert.equal(q.message.expiresAt, 1_700_000_009_000)
      assert.deepEqual(q.message.properties, m.properties)
    })

    it('clears subscriptions, queue, inflight and awaiting ids on a clean start, keeping the session', async function () {
      const s = f.store.create('a', 60)
      f.store.subscribe(s, 'x', {qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0})
      f.store.enqueue(s, queued('m'), LIMITS)
      f.store.inflightPut(s, {message: message('x', 'i'), qos: 1, retain: false, packetId: 5, stage: 'publish'})
      f.store.awaitRelease(s, 6)
      f.store.clear(s)
      const back = await readBack('a')
      assert.equal(back?.clientId, 'a')
      assert.equal(back!.subscriptions?.size ?? 0, 0)
      assert.equal(back!.queue?.length ?? 0, 0)
      assert.equal(back!.inflight?.size ?? 0, 0)
      assert.equal(back!.awaitingRel?.size ?? 0, 0)
    })

    it('deletes a session with everything in it; a new one with the same id starts empty', async function () {
      const s = f.store.create('a', 60)
      f.store.subscribe(s, 'x', {qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0})
      f.store.enqueue(s, queued('m'), LIMITS)
      f.store.create('b', 60)
      f.store.delete(s)
      assert.equal(await readBack('a'), undefined)
      assert.equal(f.store.size, 1)
      f.store.create('a', 5)
      const again = await readBack('a')
      assert.equal(again!.subscriptions?.size ?? 0, 0)
      assert.equal(again!.queue?.length ?? 0, 0)
    })

    it('restores every session at start', async function () {
      for (const id of ['a', 'b', 'c']) f.store.create(id, 60)
      f.store.delete((await f.store.load('b'))!)
      await commit(f.store)
      const view = f.reopen ? await f.reopen() : f.store
      assert.deepEqual((await view.restore()).map((s) => s.clientId).sort(), ['a', 'c'])
    })

    it('commit() resolves, or returns undefined when there is nothing to write', async function () {
      f.store.create('a', 60)
      const p = f.store.commit()
      if (p !== undefined) await p
      if (!f.store.durable) assert.equal(f.store.commit(), undefined)
    })
  })
}
