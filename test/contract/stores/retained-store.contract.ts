/** The RetainedStore contract: run against each store (memory now; durable ones as they come). */
import assert from 'node:assert/strict'
import type {Message} from '../../../src/core/broker/message.js'
import type {RetainedStore} from '../../../src/core/broker/retained-store.js'
import {message} from './session-store.contract.js'

export interface RetainedStoreFixture {
  store: RetainedStore
  /** The same data opened again (and restored); absent for a memory-only store. */
  reopen?(): Promise<RetainedStore>
  close(): Promise<void>
}

async function topics(store: RetainedStore, filter: string): Promise<string[]> {
  const out: string[] = []
  for await (const m of store.forFilter(filter)) out.push(m.topic)
  return out.sort()
}

function retained(topic: string, payload: string, extra: Partial<Message> = {}): Message {
  return message(topic, payload, 1, {retain: true, ...extra})
}

export function retainedStoreContract(name: string, make: () => Promise<RetainedStoreFixture>): void {
  describe(`RetainedStore contract: ${name}`, function () {
    let f: RetainedStoreFixture
    beforeEach(async () => {
      f = await make()
    })
    afterEach(async () => {
      await f.close()
    })

    async function view(): Promise<RetainedStore> {
      await f.store.commit()
      return f.reopen ? f.reopen() : f.store
    }

    it('keeps one message per topic, the last one set', async function () {
      f.store.set(retained('a/b', 'one'))
      f.store.set(retained('a/b', 'two'))
      const v = await view()
      assert.equal(v.size, 1)
      const got: string[] = []
      for await (const m of v.forFilter('a/b')) got.push(m.payload.toString())
      assert.deepEqual(got, ['two'])
    })

    it('keeps when a message was retained and who published it', async function () {
      f.store.set(retained('a/b', 'one', {storedAt: 1_700_000_000_123, publisher: 'sensor-7'}))
      f.store.set(retained('a/c', 'two'))
      const v = await view()
      const got = new Map<string, Message>()
      for await (const m of v.forFilter('a/#')) got.set(m.topic, m)
      assert.equal(got.get('a/b')?.storedAt, 1_700_000_000_123)
      assert.equal(got.get('a/b')?.publisher, 'sensor-7')
      assert.equal(got.get('a/c')?.storedAt, undefined)
      assert.equal(got.get('a/c')?.publisher, undefined)
    })

    it('clears a topic with an empty payload', async function () {
      f.store.set(retained('a/b', 'one'))
      f.store.set(retained('a/c', 'one'))
      f.store.set(retained('a/b', ''))
      const v = await view()
      assert.deepEqual(await topics(v, 'a/#'), ['a/c'])
      assert.equal(v.size, 1)
    })

    it('matches wildcard filters; a leading wildcard does not match $-topics', async function () {
      for (const t of ['a/b', 'a/b/c', 'a', 'x/b', '$SYS/load', 'a//b']) f.store.set(retained(t, 'p'))
      const v = await view()
      assert.deepEqual(await topics(v, 'a/+'), ['a/b'])
      assert.deepEqual(await topics(v, 'a/#'), ['a', 'a//b', 'a/b', 'a/b/c'])
      assert.deepEqual(await topics(v, '+/b'), ['a/b', 'x/b'])
      assert.deepEqual(await topics(v, '#'), ['a', 'a//b', 'a/b', 'a/b/c', 'x/b'])
      assert.deepEqual(await topics(v, '$SYS/#'), ['$SYS/load'])
      assert.deepEqual(await topics(v, 'a/+/b'), ['a//b'])
      assert.deepEqual(await topics(v, 'nothing/here'), [])
    })

    it('leaves out messages whose Message Expiry has passed', async function () {
      f.store.set(retained('e/old', 'x', {expiresAt: Date.now() - 1, properties: {messageExpiryInterval: 1}}))
      f.store.set(retained('e/new', 'y', {expiresAt: Date.now() + 60_000, properties: {messageExpiryInterval: 60}}))
      const v = await view()
      assert.deepEqual(await topics(v, 'e/#'), ['e/new'])
      assert.deepEqual(await topics(v, 'e/old'), [])
    })

    it('keeps QoS, payload bytes and properties', async function () {
      const payload = Buffer.from([0, 255, 1, 2])
      f.store.set({cmd: 'publish', topic: 'p', payload, qos: 2, retain: true, dup: false, properties: {contentType: 'application/octet-stream', userProperties: {a: 'b'}}})
      const v = await view()
      for await (const m of v.forFilter('p')) {
        assert.equal(m.qos, 2)
        assert.deepEqual(Buffer.from(m.payload as Buffer), payload)
        assert.deepEqual(m.properties, {contentType: 'application/octet-stream', userProperties: {a: 'b'}})
      }
    })
  })
}
