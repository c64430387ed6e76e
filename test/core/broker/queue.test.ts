import assert from 'node:assert/strict'
import type {Message} from '../../../src/core/broker/message.js'
import type {Queued} from '../../../src/core/broker/session-state.js'
import {MessageQueue} from '../../../src/core/broker/queue.js'
import type {QueueLimits} from '../../../src/core/broker/queue.js'

function item(name: string, payloadBytes = 4): Queued {
  const message = {cmd: 'publish', topic: name, payload: Buffer.alloc(payloadBytes), qos: 1, retain: false, dup: false} as Message
  return {message, qos: 1, retain: false}
}

const names = (q: MessageQueue): string[] => {
  const out: string[] = []
  for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x.message.topic)
  return out
}

const limits = (o: Partial<QueueLimits>): QueueLimits => ({maxQueuedMessages: 1000, maxQueuedBytes: 1 << 30, queueOverflow: 'drop-oldest', ...o})

describe('MessageQueue', () => {
  it('is FIFO and counts bytes as topic + payload', () => {
    const q = new MessageQueue()
    const l = limits({})
    for (const n of ['a', 'bb', 'ccc']) assert.equal(q.push(item(n), l), 0)
    assert.equal(q.length, 3)
    assert.equal(q.bytes, 1 + 4 + 2 + 4 + 3 + 4)
    assert.deepEqual(names(q), ['a', 'bb', 'ccc'])
    assert.equal(q.bytes, 0)
    assert.equal(q.shift(), undefined)
  })

  it('drop-oldest: a full queue drops its oldest messages to make room, and says how many', () => {
    const q = new MessageQueue()
    const l = limits({maxQueuedMessages: 3})
    for (const n of ['1', '2', '3']) q.push(item(n), l)
    assert.equal(q.push(item('4'), l), 1)
    assert.deepEqual(names(q), ['2', '3', '4'])
  })

  it('drop-newest: a full queue refuses the new message', () => {
    const q = new MessageQueue()
    const l = limits({maxQueuedMessages: 3, queueOverflow: 'drop-newest'})
    for (const n of ['1', '2', '3']) q.push(item(n), l)
    assert.equal(q.push(item('4'), l), 1)
    assert.deepEqual(names(q), ['1', '2', '3'])
  })

  it('the byte limit drops as many old messages as it takes', () => {
    const q = new MessageQueue()
    const l = limits({maxQueuedBytes: 20})
    q.push(item('a', 4), l) // 5
    q.push(item('b', 4), l) // 10
    q.push(item('c', 4), l) // 15
    assert.equal(q.push(item('d', 14), l), 2, 'needs 15 bytes: a and b go')
    assert.deepEqual(names(q), ['c', 'd'])
  })

  it('a message larger than the byte limit, or a limit of 0 messages, is dropped alone', () => {
    const q = new MessageQueue()
    q.push(item('a'), limits({}))
    assert.equal(q.push(item('big', 100), limits({maxQueuedBytes: 50})), 1)
    assert.equal(q.push(item('x'), limits({maxQueuedMessages: 0})), 1)
    assert.deepEqual(names(q), ['a'])
  })

  it('extract takes out matching messages and keeps the order and byte count of the rest', () => {
    const q = new MessageQueue()
    const l = limits({})
    for (const n of ['a1', 'b1', 'a2', 'b2', 'a3']) q.push(item(n), l)
    q.shift()
    const out = q.extract((x) => x.message.topic.startsWith('a'))
    assert.deepEqual(
      out.map((x) => x.message.topic),
      ['a2', 'a3'],
    )
    assert.equal(q.bytes, 12)
    assert.deepEqual(names(q), ['b1', 'b2'])
  })

  it('stays FIFO across its internal compaction (many pushes and shifts)', () => {
    const q = new MessageQueue()
    const l = limits({maxQueuedMessages: 5000})
    let next = 0
    let expected = 0
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300; i++) q.push(item(String(next++)), l)
      for (let i = 0; i < 250; i++) assert.equal(q.shift()!.message.topic, String(expected++))
    }
    assert.equal(q.length, next - expected)
  })
})
