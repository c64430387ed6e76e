import assert from 'node:assert/strict'
import {MessageQueue} from '../../../src/core/broker/queue.js'
import type {Message} from '../../../src/core/broker/message.js'
import {newSessionState} from '../../../src/core/broker/session-state.js'
import type {SessionState} from '../../../src/core/broker/session-state.js'
import {decodeRecord, encodeRecord, pendingOf} from '../../../src/core/cluster/session-record.js'

const LIMITS = {maxQueuedMessages: 100, maxQueuedBytes: 1e6, queueOverflow: 'drop-oldest' as const}

function msg(topic: string, payload: string | Buffer, qos: 0 | 1 | 2, extra: Partial<Message> = {}): Message {
  return {cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...extra}
}

function session(): SessionState {
  const s = newSessionState('rec-1', 300)
  s.disconnectedAt = 1_000_000
  s.subscriptions = new Map([
    ['a/#', {qos: 1, noLocal: false, retainAsPublished: true, retainHandling: 0, subscriptionId: 7}],
    ['$share/g/b/+', {qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 2}],
  ])
  s.inflight = new Map([
    [3, {message: msg('a/x', 'inflight', 1), qos: 1, retain: false, packetId: 3, stage: 'publish', subscriptionIds: [7]}],
    [4, {message: msg('b/y', 'released', 2), qos: 2, retain: false, packetId: 4, stage: 'pubrel', group: '$share/g/b/+'}],
  ])
  s.queue = new MessageQueue()
  s.queue.push({message: msg('a/q', Buffer.from([0, 255, 1]), 1, {retain: true, properties: {contentType: 'bin', userProperties: {k: 'v'}}}), qos: 1, retain: true}, LIMITS)
  s.queue.push({message: msg('a/e', 'expires', 1, {expiresAt: Date.now() + 60_000, properties: {messageExpiryInterval: 60}}), qos: 1, retain: false}, LIMITS)
  s.awaitingRel = new Set([9, 10])
  return s
}

describe('cluster: a session as a record', () => {
  it('keeps subscriptions, expiry, when the client left, inflight (ids, stages), queue and inbound QoS 2 ids', () => {
    const now = Date.now()
    const rec = decodeRecord(encodeRecord(session(), 'node-a~x', 'node-a', now, true, 1e6))!
    assert.equal(rec.id, 'rec-1')
    assert.equal(rec.owner, 'node-a~x')
    assert.equal(rec.node, 'node-a')
    assert.equal(rec.expiry, 300)
    assert.equal(rec.disc, 1_000_000)
    assert.deepEqual(rec.subs.map(([f]) => f), ['a/#', '$share/g/b/+'])
    assert.equal(rec.subs[0][1].subscriptionId, 7)
    assert.deepEqual(rec.rel, [9, 10])
    const pending = pendingOf(rec, now)
    assert.deepEqual(
      pending.map((p) => [p.message.topic, Buffer.from(p.message.payload).toString('hex'), p.qos, p.packetId, p.stage, p.group, p.retain]),
      [
        ['a/x', Buffer.from('inflight').toString('hex'), 1, 3, 'publish', undefined, false],
        ['b/y', Buffer.from('released').toString('hex'), 2, 4, 'pubrel', '$share/g/b/+', false],
        ['a/q', '00ff01', 1, undefined, undefined, undefined, true],
        ['a/e', Buffer.from('expires').toString('hex'), 1, undefined, undefined, undefined, false],
      ],
    )
    assert.deepEqual(pending[0].subscriptionIds, [7])
    assert.deepEqual(pending[2].message.properties, {contentType: 'bin', userProperties: {k: 'v'}})
    assert.ok(pending[3].message.expiresAt! > now + 59_000, 'the expiry left travels')
  })

  it('a connected session is recorded without messages; past the size limit the messages are left out (cut)', () => {
    const s = session()
    assert.equal(decodeRecord(encodeRecord(s, 'i', 'n', 1, false, 1e6))!.pending, undefined)
    const cut = decodeRecord(encodeRecord(s, 'i', 'n', 1, true, 300))!
    assert.equal(cut.pending, undefined)
    assert.equal(cut.cut, 1)
    assert.equal(cut.subs.length, 2)
  })

  it('reads nothing that is not a record of this version', () => {
    for (const text of ['', 'not json', '{}', '{"v":2,"id":"a","owner":"o","expiry":1,"subs":[]}', '{"v":1,"id":"a","owner":"o","expiry":1,"subs":[["f",{"qos":3}]]}']) {
      assert.equal(decodeRecord(Buffer.from(text)), undefined, text)
    }
  })
})
