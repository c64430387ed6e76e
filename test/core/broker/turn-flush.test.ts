/**
 * TurnFlush at light load and under load: the first read of a quiet turn writes at once
 * (a lone message does not wait for the check phase); once a turn reads several chunks,
 * output waits for the end of the turn, one write per connection.
 */
import assert from 'node:assert/strict'
import {setImmediate as nextTurn} from 'node:timers/promises'
import type {ClientConnection} from '../../../src/core/broker/connection.js'
import {MemoryRetainedStore} from '../../../src/core/broker/retained-store.js'
import {MemorySessionStore} from '../../../src/core/broker/session-store.js'
import {TurnFlush} from '../../../src/core/broker/turn-flush.js'

/** Stands in for a connection: asks for a flush on its first write since the last (as send() does); TurnFlush calls only flush(). */
class Written {
  flushes = 0
  corked = false
  flush(): void {
    this.corked = false
    this.flushes++
  }
}

function setup(): {flush: TurnFlush; conn: Written; write(): void} {
  const flush = new TurnFlush(new MemorySessionStore(), new MemoryRetainedStore(), (e) => assert.fail(e))
  const conn = new Written()
  const write = (): void => {
    if (conn.corked) return
    conn.corked = true
    flush.schedule(conn as unknown as ClientConnection)
  }
  return {flush, conn, write}
}

describe('broker: TurnFlush', () => {
  it('writes the output of a quiet turn’s first read at once', () => {
    const {flush, conn, write} = setup()
    write()
    flush.afterRead()
    assert.equal(conn.flushes, 1)
  })

  it('under load (a turn of several reads) writes once, at the end of the turn', async () => {
    const {flush, conn, write} = setup()
    // Turn 1: three reads; the first goes out at once (the last turn was quiet), the rest wait.
    for (let i = 0; i < 3; i++) {
      write()
      flush.afterRead()
    }
    assert.equal(conn.flushes, 1)
    await nextTurn()
    assert.equal(conn.flushes, 2)
    // Turn 2 follows a busy turn: nothing leaves before the end of the turn.
    write()
    flush.afterRead()
    write()
    flush.afterRead()
    assert.equal(conn.flushes, 2)
    await nextTurn()
    assert.equal(conn.flushes, 3)
    // Turn 3, one read after a busy turn: still batched; turn 4 follows a quiet turn again.
    write()
    flush.afterRead()
    assert.equal(conn.flushes, 3)
    await nextTurn()
    assert.equal(conn.flushes, 4)
    write()
    flush.afterRead()
    assert.equal(conn.flushes, 5)
  })
})
