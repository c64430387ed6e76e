/** bench --inflight: each publisher's closed loop, and what happens when a broker drops its messages. */
import assert from 'node:assert/strict'
import {InflightGate} from '../../../src/core/bench/inflight.js'
import {LocalCounters} from '../../../src/core/bench/local-counters.js'
import {STALL_MS, windowRoom} from '../../../src/core/bench/publisher.js'

describe('bench --inflight', () => {
  it('lets each publisher run N messages ahead of its own deliveries, counting every subscriber', () => {
    const received = [0, 0]
    const gate = new InflightGate(10, 3, 2, (p) => received[p], () => 0)
    assert.equal(gate.room(0, 0), 10)
    assert.equal(gate.room(0, 4), 6)
    assert.equal(gate.room(0, 10), 0)
    // Two of three subscribers got message 0: not yet received by every one.
    received[0] = 2
    assert.equal(gate.room(0, 10), 0)
    received[0] = 3
    assert.equal(gate.room(0, 10), 1)
    // Publisher 1 is on its own.
    assert.equal(gate.room(1, 10), 0)
    assert.equal(gate.room(1, 3), 7)
  })

  it('writes off what a broker dropped after STALL_MS without any of the publisher’s messages arriving, not before', () => {
    let clock = 1000
    let received = 0
    const gate = new InflightGate(5, 1, 1, () => received, () => clock)
    assert.equal(gate.room(0, 5), 0)
    clock += STALL_MS - 1
    assert.equal(gate.room(0, 5), 0)
    // A delivery is progress: the stall starts again from here.
    received = 1
    clock += 10
    assert.equal(gate.room(0, 6), 0)
    clock += STALL_MS - 1
    assert.equal(gate.room(0, 6), 0)
    clock += 1
    // Five missing deliveries written off: a full window again, and the next five count from there.
    assert.equal(gate.room(0, 6), 5)
    assert.equal(gate.room(0, 8), 3)
    received = 3
    assert.equal(gate.room(0, 11), 2)
    assert.equal(gate.room(0, 13), 0)
  })

  it('limits the shared window and each publisher together; off (0) leaves only the shared window', () => {
    const off = new LocalCounters(1, 100, 0, 2)
    assert.equal(windowRoom(off, 0, 1000, false), 100)
    const on = new LocalCounters(1, 100, 4, 2)
    assert.equal(windowRoom(on, 0, 0, false), 4)
    on.sent = 98
    assert.equal(windowRoom(on, 1, 0, false), 2)
    // Paced publishers are not held by the shared window, but by their own limit.
    assert.equal(windowRoom(on, 1, 0, true), 4)
    on.delivered(1, 0)
    assert.equal(windowRoom(on, 1, 4, true), 1)
    // No subscribers: nothing to wait for.
    assert.equal(windowRoom(new LocalCounters(0, 100, 4, 1), 0, 50, false), Infinity)
  })
})
