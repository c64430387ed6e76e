/** The store contracts on SQLite (serve --data-dir): each test's data read back through a second connection to the same file. */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {openSqliteStores} from '../../../src/core/store/sqlite.js'
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
