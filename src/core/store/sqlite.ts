/** Durable stores in one SQLite database: `serve --data-dir DIR` (persistence.dir). */
import type {BrokerConfig} from '../config.js'
import {SqliteDatabase} from './sqlite-db.js'
import type {SqliteOptions} from './sqlite-db.js'
import {SqliteRetainedStore} from './sqlite-retained-store.js'
import {SqliteSessionStore} from './sqlite-session-store.js'

export {DB_FILE, SCHEMA_VERSION, SqliteDatabase} from './sqlite-db.js'
export type {SqliteOptions, StoreStats, SyncMode} from './sqlite-db.js'
export {SqliteRetainedStore} from './sqlite-retained-store.js'
export {SqliteSessionStore} from './sqlite-session-store.js'

export interface SqliteStores {
  database: SqliteDatabase
  sessions: SqliteSessionStore
  retained: SqliteRetainedStore
}

/** Opens DIR/mqttws.db (creating it) and the two stores on it; throws a StoreError or ConfigError saying what to do. */
export function openSqliteStores(options: SqliteOptions): SqliteStores {
  const database = SqliteDatabase.open(options)
  return {database, sessions: new SqliteSessionStore(database), retained: new SqliteRetainedStore(database)}
}

/** The stores a configuration asks for: SQLite in persistence.dir, or none (the broker's memory stores). */
export function openConfiguredStores(config: BrokerConfig): Partial<SqliteStores> {
  const p = config.persistence
  return p === undefined ? {} : openSqliteStores({dir: p.dir, synchronous: p.synchronous})
}
