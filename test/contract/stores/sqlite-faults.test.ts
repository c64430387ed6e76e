/**
 * A full disk under the SQLite store, made real with SQLite's own page limit (the database
 * answers SQLITE_FULL, as on ENOSPC): what is not written is not acknowledged, QoS 0 keeps
 * flowing, and when there is room again the broker catches up by itself.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {openSqliteStores} from '../../../src/core/store/sqlite.js'
import type {SqliteStores} from '../../../src/core/store/sqlite.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {Tracker, openJs} from '../../helpers/contract.js'

describe('SQLite store: a full disk', function () {
  const t = new Tracker()
  let dir: string
  let stores: SqliteStores
  let tb: TestBroker

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mqttws-full-'))
    stores = openSqliteStores({dir})
    tb = await startBroker({listeners: ['mqtt://127.0.0.1:0']}, {sessions: stores.sessions, retained: stores.retained})
  })
  afterEach(async () => {
    t.closeAll()
    await tb.close()
    rmSync(dir, {recursive: true, force: true})
  })

  it('refuses PUBACK (0x80) for what it could not store, keeps QoS 0 flowing, and catches up when there is room again', async function () {
    const url = tb.urls.mqtt
    const away = await openJs(t, url, {clientId: 'away', protocolVersion: 5, clean: false, properties: {sessionExpiryInterval: 3600}})
    await away.client.subscribeAsync('f/#', {qos: 1})
    await away.client.endAsync()
    const live = await openJs(t, url, {clientId: 'live'})
    await live.client.subscribeAsync('f/#', {qos: 0})
    const pub = await openJs(t, url, {clientId: 'pub', protocolVersion: 5})

    // On the connection that writes (the writer thread, once the broker committed anything).
    const db = stores.database
    const pages = (await db.exec('PRAGMA page_count')) as number
    await db.exec(`PRAGMA max_page_count = ${pages + 2}`)
    const big = Buffer.alloc(8192, 'x')
    const codes: number[] = []
    const failures: Error[] = []
    tb.broker.on('storeError', (e) => failures.push(e))
    for (let i = 0; i < 20; i++) {
      const packet = await new Promise<{reasonCode?: number}>((resolve, reject) =>
        pub.client.publish(`f/${i}`, big, {qos: 1}, (error, p) => (error && !(p as {reasonCode?: number} | undefined) ? reject(error) : resolve((p ?? {}) as {reasonCode?: number}))),
      )
      codes.push(packet.reasonCode ?? 0)
    }
    assert.ok(codes.includes(0x80), `some PUBACKs refused: ${codes.map((c) => c.toString(16)).join(' ')}`)
    assert.ok(failures.length > 0 && /full/i.test(failures[0].message), failures[0]?.message)
    assert.equal(tb.broker.metrics.storeErrors, failures.length)
    // QoS 0 is not stored: it flows on.
    await pub.client.publishAsync('f/q0', 'still here', {qos: 0})
    const q0 = (await live.inbox.take(21, 5000)).map((m) => m.topic)
    assert.ok(q0.includes('f/q0'))

    // Room again: the next commit rewrites what the failed ones missed, and acknowledges.
    await db.exec('PRAGMA max_page_count = 1073741823')
    await pub.client.publishAsync('f/after', 'ok', {qos: 1})
    await tb.close()
    // Read back what the file holds, as a restarted broker would.
    const again = openSqliteStores({dir})
    try {
      await again.sessions.restore()
      assert.equal(again.sessions.stats().queued, 21, 'the disk caught up with every message queued for the session')
      assert.equal(again.database.reader.pragma('integrity_check', {simple: true}), 'ok')
    } finally {
      await again.database.close()
    }
  })
})
