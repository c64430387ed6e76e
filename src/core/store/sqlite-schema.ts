/**
 * The database's schema, its statements and how a connection is opened, shared by the
 * broker's thread (reading at start) and the writer thread (sqlite-writer.ts).
 */
import {createRequire} from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'
import {StoreError} from '../errors.js'

/** The schema this code writes; older files are migrated, newer ones refused. */
export const SCHEMA_VERSION = 2

export const DB_FILE = 'mqttws.db'

/** SQLite's synchronous mode: 'normal' survives a crash of the process, 'full' also a power loss. */
export type SyncMode = 'normal' | 'full'

export interface ConnectionOptions {
  synchronous?: SyncMode
  /** Hold the database for this process alone (default). */
  exclusive?: boolean
  /** Run PRAGMA quick_check (at start, once). */
  check?: boolean
}

const MIGRATIONS: ReadonlyArray<string> = [
  // 1: the first release.
  `CREATE TABLE sessions (
     client_id TEXT PRIMARY KEY,
     expiry INTEGER NOT NULL,
     disconnected_at INTEGER,
     dropped INTEGER NOT NULL DEFAULT 0,
     will BLOB,
     will_expires_at INTEGER,
     will_due INTEGER
   );
   CREATE TABLE subscriptions (
     client_id TEXT NOT NULL,
     filter TEXT NOT NULL,
     qos INTEGER NOT NULL,
     no_local INTEGER NOT NULL,
     retain_as_published INTEGER NOT NULL,
     retain_handling INTEGER NOT NULL,
     subscription_id INTEGER,
     PRIMARY KEY (client_id, filter)
   ) WITHOUT ROWID;
   -- A session's outbound messages: queued (packet_id NULL) or in flight (packet_id and stage),
   -- in one table so that sending a queued message updates its row instead of copying it.
   CREATE TABLE outbound (
     client_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     packet_id INTEGER,
     stage TEXT,
     message BLOB NOT NULL,
     expires_at INTEGER,
     qos INTEGER NOT NULL,
     retain INTEGER NOT NULL,
     subscription_ids TEXT,
     grp TEXT,
     PRIMARY KEY (client_id, seq)
   ) WITHOUT ROWID;
   CREATE TABLE awaiting_rel (
     client_id TEXT NOT NULL,
     packet_id INTEGER NOT NULL,
     PRIMARY KEY (client_id, packet_id)
   ) WITHOUT ROWID;
   CREATE TABLE retained (
     topic TEXT PRIMARY KEY,
     message BLOB NOT NULL,
     expires_at INTEGER
   );`,
  // 2: when a retained message was stored, and by which client (the admin API shows them).
  `ALTER TABLE retained ADD COLUMN stored_at INTEGER;
   ALTER TABLE retained ADD COLUMN publisher TEXT;`,
]

export const SQL = {
  deleteSession: 'DELETE FROM sessions WHERE client_id = ?',
  deleteSubscriptions: 'DELETE FROM subscriptions WHERE client_id = ?',
  deleteOutboundAll: 'DELETE FROM outbound WHERE client_id = ?',
  deleteAwaiting: 'DELETE FROM awaiting_rel WHERE client_id = ?',
  putSession: `INSERT INTO sessions (client_id, expiry, disconnected_at, dropped, will, will_expires_at, will_due) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (client_id) DO UPDATE SET expiry = excluded.expiry, disconnected_at = excluded.disconnected_at, dropped = excluded.dropped,
      will = excluded.will, will_expires_at = excluded.will_expires_at, will_due = excluded.will_due`,
  setExpiry: 'UPDATE sessions SET expiry = ? WHERE client_id = ?',
  setDisconnectedAt: 'UPDATE sessions SET disconnected_at = ? WHERE client_id = ?',
  setDropped: 'UPDATE sessions SET dropped = ? WHERE client_id = ?',
  setWill: 'UPDATE sessions SET will = ?, will_expires_at = ?, will_due = ? WHERE client_id = ?',
  putSubscription: 'INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)',
  deleteSubscription: 'DELETE FROM subscriptions WHERE client_id = ? AND filter = ?',
  putOutbound: 'INSERT OR REPLACE INTO outbound VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  deleteOutbound: 'DELETE FROM outbound WHERE client_id = ? AND seq = ?',
  sendOutbound: 'UPDATE outbound SET packet_id = ?, stage = ? WHERE client_id = ? AND seq = ?',
  setStage: 'UPDATE outbound SET stage = ? WHERE client_id = ? AND seq = ?',
  putAwaiting: 'INSERT OR IGNORE INTO awaiting_rel VALUES (?, ?)',
  deleteAwaitingOne: 'DELETE FROM awaiting_rel WHERE client_id = ? AND packet_id = ?',
  putRetained: 'INSERT OR REPLACE INTO retained (topic, message, expires_at, stored_at, publisher) VALUES (?, ?, ?, ?, ?)',
  deleteRetained: 'DELETE FROM retained WHERE topic = ?',
} as const

export type StatementName = keyof typeof SQL

export type Statements = Record<StatementName, BetterSqlite3.Statement>

export function prepareAll(db: BetterSqlite3.Database): Statements {
  const statements = {} as Statements
  for (const name of Object.keys(SQL) as StatementName[]) statements[name] = db.prepare(SQL[name])
  return statements
}

/** Opens, sets the pragmas, checks and migrates; throws a StoreError that says what to do. */
export function openConnection(file: string, options: ConnectionOptions): BetterSqlite3.Database {
  const Database = loadDriver()
  let db: BetterSqlite3.Database
  try {
    db = new Database(file)
  } catch (error) {
    throw openError(file, error)
  }
  try {
    // One broker per data directory: the lock is held for as long as the broker runs.
    if (options.exclusive !== false) db.pragma('locking_mode = EXCLUSIVE')
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    if (options.check !== false) {
      const check = db.pragma('quick_check', {simple: true}) as string
      if (check !== 'ok') throw new StoreError(`the database ${file} is damaged (quick_check: ${check}): move it aside to start with an empty store, or restore a backup`)
    }
    migrate(db, file)
    // Take the lock now, so a second broker on the same directory is told at its start.
    db.exec('BEGIN IMMEDIATE; COMMIT')
    return db
  } catch (error) {
    db.close()
    throw openError(file, error)
  }
}

/** better-sqlite3 is loaded only when a data directory is used (a native module: no cost otherwise). */
function loadDriver(): typeof BetterSqlite3 {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
  } catch (error) {
    throw new StoreError(
      `the SQLite driver (better-sqlite3) could not be loaded: ${(error as Error).message.split('\n')[0]}: reinstall mqttws (npm ci) so that it builds for this Node.js`,
      {cause: error},
    )
  }
}

function migrate(db: BetterSqlite3.Database, file: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as {value: string} | undefined
  const version = row === undefined ? 0 : Number(row.value)
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      `the database ${file} was written by a newer mqttws (schema version ${version}; this one reads up to ${SCHEMA_VERSION}): upgrade mqttws, or use another --data-dir`,
    )
  }
  if (version === SCHEMA_VERSION) return
  db.transaction(() => {
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v])
    db.prepare("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION))
  })()
}

export function openError(file: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error
  const e = error as {code?: string; message: string}
  const code = e.code ?? ''
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new StoreError(`${file} is not a usable mqttws database (${e.message}): move it aside to start with an empty store, or restore a backup`, {cause: error})
  }
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new StoreError(`${file} is in use by another process (${e.message}): is another \`mqttws serve\` running with this --data-dir? Stop it, or use another directory`, {cause: error})
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_PERM') {
    return new StoreError(`cannot open ${file} for writing (${e.message}): check the directory's permissions`, {cause: error})
  }
  return new StoreError(`cannot open ${file}: ${e.message}`, {cause: error})
}
