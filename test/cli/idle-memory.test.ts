import assert from 'node:assert/strict'
import net from 'node:net'
import {BURST_CONNECTS, BurstWatch, MAX_COLLECTIONS, collectsAt, trimMemoryWhenIdle} from '../../src/cli/idle-memory.js'
import type {Logger} from '../../src/core/logger.js'
import {noopLogger} from '../../src/core/logger.js'
import {startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'

const CONNECT = Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00])

/** Opens n MQTT 3.1.1 connections (empty client id) at up to 50 at a time; resolves when each has its CONNACK. */
async function openIdle(port: number, n: number, into: net.Socket[]): Promise<void> {
  let next = 0
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(CONNECT))
      s.once('data', () => resolve())
      s.once('error', reject)
      into.push(s)
    })
  const lane = async (): Promise<void> => {
    while (next < n) {
      next++
      await one()
    }
  }
  await Promise.all(Array.from({length: 50}, lane))
}

async function until(what: string, ok: () => boolean, limitMs = 10_000): Promise<void> {
  for (let waited = 0; !ok(); waited += 50) {
    if (waited >= limitMs) throw new Error(`timed out waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('serve: memory given back after a burst of connections (cli/idle-memory)', () => {
  describe('BurstWatch', () => {
    it('is due once, at the first quiet interval after BURST_CONNECTS new connections', () => {
      const w = new BurstWatch(10, 100)
      assert.equal(w.sample({accepted: 0, packetsIn: 0}), false)
      assert.equal(w.sample({accepted: 600, packetsIn: 600}), false) // connecting
      assert.equal(w.sample({accepted: BURST_CONNECTS + 5, packetsIn: 1005}), false) // still connecting
      assert.equal(w.sample({accepted: BURST_CONNECTS + 8, packetsIn: 1010}), true) // quiet: due
      assert.equal(w.sample({accepted: BURST_CONNECTS + 9, packetsIn: 1011}), false) // no new burst since
    })

    it('waits while traffic is heavy, however few clients connect', () => {
      const w = new BurstWatch(10, 100)
      w.sample({accepted: 0, packetsIn: 0})
      w.sample({accepted: 2000, packetsIn: 2000})
      assert.equal(w.sample({accepted: 2000, packetsIn: 50_000}), false)
      assert.equal(w.sample({accepted: 2000, packetsIn: 50_050}), true)
    })

    it('never collects for a trickle of connections', () => {
      const w = new BurstWatch(10, 100)
      let due = 0
      for (let i = 0; i < 50; i++) if (w.sample({accepted: i * 5, packetsIn: i * 5})) due++
      assert.equal(due, 0) // 245 connections in all: below BURST_CONNECTS
    })
  })

  it('collects at the 1st and 2nd quiet interval, then from the 7th: not while the burst is still in V8\'s 5 s window', () => {
    const at: number[] = []
    let done = 0
    for (let tick = 0; tick < 20; tick++) {
      if (!collectsAt(tick, done)) continue
      at.push(tick)
      done++
    }
    assert.deepEqual(at, [0, 1, 6, 7, 8, 9])
    assert.equal(done, MAX_COLLECTIONS)
  })

  describe('on a real broker', () => {
    let b: TestBroker
    const sockets: net.Socket[] = []
    let stop: (() => void) | undefined
    afterEach(async () => {
      stop?.()
      for (const s of sockets.splice(0)) s.destroy()
      await b?.close()
    })

    it(`collects after ${BURST_CONNECTS} clients connected and went quiet, until the heap shrank or MAX_COLLECTIONS times, and not again while nothing happens`, async function () {
      this.timeout(30_000)
      b = await startBroker()
      let collections = 0
      const lines: string[] = []
      const log: Logger = {...noopLogger, debugEnabled: true, debug: (msg) => void lines.push(msg)}
      stop = trimMemoryWhenIdle(b.broker, log, {intervalMs: 100, collect: () => collections++})
      await openIdle(b.ports.mqtt, BURST_CONNECTS + 50, sockets)
      await until('the collections after the burst', () => lines.includes('memory trimmed after a burst of connections'))
      await new Promise((r) => setTimeout(r, 500))
      // The heap does not shrink (nothing is collected here): one per quiet interval, MAX_COLLECTIONS at most.
      assert.equal(collections, MAX_COLLECTIONS)
      assert.equal(lines.filter((l) => l === 'memory trimmed after a burst of connections').length, 1)
      assert.equal(b.broker.clients.size, BURST_CONNECTS + 50)
    })

    it('reads broker.activity(): the accepted and packet counters of the full listener statuses, without their socket walk', async function () {
      this.timeout(30_000)
      b = await startBroker()
      await openIdle(b.ports.mqtt, 120, sockets)
      await until('every CONNECT counted', () => b.broker.activity().accepted === 120)
      let accepted = 0
      let packetsIn = 0
      for (const l of b.broker.listenerStatuses()) {
        accepted += l.connections.accepted
        packetsIn += l.packets.in
      }
      assert.deepEqual(b.broker.activity(), {accepted, packetsIn})
      assert.equal(packetsIn, 120)
    })

    it("uses V8's own full collection by default, without --expose-gc", async function () {
      this.timeout(30_000)
      b = await startBroker()
      const lines: Array<Record<string, unknown> | undefined> = []
      const log: Logger = {...noopLogger, debugEnabled: true, debug: (_msg, fields) => void lines.push(fields)}
      stop = trimMemoryWhenIdle(b.broker, log, {intervalMs: 100})
      await openIdle(b.ports.mqtt, BURST_CONNECTS, sockets)
      await until('the collection after the burst', () => lines.length > 0)
      assert.equal(typeof lines[0]?.heapMiBBefore, 'number')
      assert.equal(typeof lines[0]?.heapMiBAfter, 'number')
      assert.equal(b.broker.clients.size, BURST_CONNECTS)
    })
  })
})
