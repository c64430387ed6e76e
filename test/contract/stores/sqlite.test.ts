/** The store contracts on SQLite (serve --data-dir): each test's data read back through a second connection to the same file. */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {openSqliteStores} from '../../../src/core/store/sqlite.js'
import {DB_FILE} from '../../../src/core/store/sqlite-schema.js'
import type {SqliteStores} from '../../../src/core/store/sqlite.js'
import {retainedStoreContract} from './retained-store.contract.js'
import {sessionStoreContract} from './session-store.contract.js'

/** A database in a fresh directory, opened so that a second connection can read it back. */
function fixture<K extends 'sessions' | 'retained'>(kind: K) {
  return async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mqttws-store-'))
    const opened: SqliteStores[] = []
    const open = (): SqliteStores => {
      const s = openSqliteStores({dir, exclusive: false})
      opened.push(s)
      return s
    }
    const first = open()
    return {
      store: first[kind] as SqliteStores[K],
      reopen: async () => {
        const again = open()
        await again.retained.restore()
        await again.sessions.restore()
        return again[kind] as SqliteStores[K]
      },
      close: async () => {
        for (const s of opened) s.database.close()
        rmSync(dir, {recursive: true, force: true})
      },
    }
  }
}

sessionStoreContract('sqlite', fixture('sessions'))
retainedStoreContract('sqlite', fixture('retained'))

describe('SQLite store: schema migration', () => {
  it('opens a version 1 file: retained messages keep their payload and gain stored_at and publisher', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mqttws-store-'))
    try {
      const first = openSqliteStores({dir, exclusive: false})
      first.retained.set({cmd: 'publish', topic: 'old/t', payload: Buffer.from('kept'), qos: 1, retain: true, dup: false})
      await first.retained.commit()
      first.database.close()
      // Make it the file an mqttws of schema version 1 wrote.
      const raw = new Database(path.join(dir, DB_FILE))
      raw.exec("ALTER TABLE retained DROP COLUMN stored_at; ALTER TABLE retained DROP COLUMN publisher; UPDATE meta SET value = '1' WHERE key = 'schema_version'")
      raw.close()

      const again = openSqliteStores({dir, exclusive: false})
      await again.retained.restore()
      const got = []
      for await (const m of again.retained.forFilter('#')) got.push(m)
      assert.deepEqual(got.map((m) => [m.topic, m.payload.toString(), m.storedAt, m.publisher]), [['old/t', 'kept', undefined, undefined]])
      again.retained.set({cmd: 'publish', topic: 'new/t', payload: Buffer.from('x'), qos: 0, retain: true, dup: false, storedAt: 5, publisher: 'p'})
      await again.retained.commit()
      again.database.close()
      const raw2 = new Database(path.join(dir, DB_FILE), {readonly: true})
      assert.equal((raw2.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as {value: string}).value, '2')
      assert.deepEqual(raw2.prepare("SELECT stored_at, publisher FROM retained WHERE topic = 'new/t'").get(), {stored_at: 5, publisher: 'p'})
      raw2.close()
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
