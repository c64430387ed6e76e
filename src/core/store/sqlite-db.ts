/**
 * The broker's SQLite database (better-sqlite3, WAL mode): opening it with clear errors
 * (damaged, from a newer mqttws, in use by another process), the schema and its
 * migrations, and the write journal both stores record into. `commit()` writes one
 * event-loop turn's journal in one transaction. better-sqlite3 is synchronous, so a commit
 * is done when commit() returns: it returns undefined (nothing left to write), or a
 * rejected promise when the transaction failed.
 *
 * A failed commit leaves memory ahead of the disk for the sessions and topics it touched:
 * they are marked and rewritten whole by the next commit that succeeds, so the disk
 * catches up when it can be written again (ENOSPC, EIO). Every statement is keyed by
 * exact ids, so writing a row again is harmless.
 */
import {mkdirSync, statSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import {ConfigError, StoreError} from '../errors.js'

/** The schema this code writes; older files are migrated, newer ones refused. */
export const SCHEMA_VERSION = 1

export const DB_FILE = 'mqttws.db'

/** SQLite's synchronous mode: 'normal' survives a crash of the process, 'full' also a power loss. */
export type SyncMode = 'normal' | 'full'

export interface SqliteOptions {
  /** The data directory; created when missing. */
  dir: string
  synchronous?: SyncMode
  /** Hold the database for this process alone (default). Off only to read a running broker's file (tests, tools). */
  exclusive?: boolean
}

type Statement = BetterSqlite3.Statement

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
]

const SQL = {
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
  putRetained: 'INSERT OR REPLACE INTO retained VALUES (?, ?, ?)',
  deleteRetained: 'DELETE FROM retained WHERE topic = ?',
} as const

export type StatementName = keyof typeof SQL

/** Rewrites whole what a failed commit left behind (the stores implement it). */
export interface Rewriter {
  rewriteSession(clientId: string): void
  rewriteRetained(topic: string): void
}

export interface StoreStats {
  file: string
  /** The database file and its write-ahead log, in bytes. */
  bytes: number
  sessions: number
  subscriptions: number
  queued: number
  inflight: number
  retained: number
  /** Commits that failed since start. */
  failedCommits: number
}

export class SqliteDatabase {
  readonly file: string
  readonly db: BetterSqlite3.Database
  private readonly statements: Record<StatementName, Statement>
  /** This turn's writes: statement, parameters, statement, parameters… */
  private journal: unknown[] = []
  /** Sessions and retained topics this turn wrote to. */
  private readonly touchedSessions = new Set<string>()
  private readonly touchedTopics = new Set<string>()
  /** What a failed commit left unwritten, rewritten whole by the next commit. */
  private readonly staleSessions = new Set<string>()
  private readonly staleTopics = new Set<string>()
  private readonly rewriters: Rewriter[] = []
  private readonly transaction: () => void
  /** The next queue/inflight position. */
  private seq: number
  failedCommits = 0

  private constructor(db: BetterSqlite3.Database, file: string) {
    this.db = db
    this.file = file
    const statements = {} as Record<StatementName, Statement>
    for (const name of Object.keys(SQL) as StatementName[]) statements[name] = db.prepare(SQL[name])
    this.statements = statements
    const max = db.prepare('SELECT MAX(seq) AS s FROM outbound').get() as {s: number | null}
    this.seq = max.s ?? 0
    this.transaction = db.transaction(() => this.writeAll())
  }

  /** Opens (or creates) DIR/mqttws.db; throws a StoreError that says what to do when it cannot. */
  static open(options: SqliteOptions): SqliteDatabase {
    const file = path.join(options.dir, DB_FILE)
    try {
      mkdirSync(options.dir, {recursive: true})
    } catch (error) {
      throw new ConfigError(`data directory ${options.dir}: cannot create it (${(error as Error).message}): pick a directory you can write to`, {cause: error})
    }
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
      db.pragma('foreign_keys = OFF')
      const check = db.pragma('quick_check', {simple: true}) as string
      if (check !== 'ok') throw new StoreError(`the database ${file} is damaged (quick_check: ${check}): move it aside to start with an empty store, or restore a backup`)
      migrate(db, file)
      return new SqliteDatabase(db, file)
    } catch (error) {
      db.close()
      throw openError(file, error)
    }
  }

  /** A store that can rewrite what it holds after a failed commit. */
  addRewriter(r: Rewriter): void {
    this.rewriters.push(r)
  }

  nextSeq(): number {
    return ++this.seq
  }

  /** Records one write of a session's rows; returns its place in the journal (see replace()). */
  session(clientId: string, name: StatementName, params: unknown[]): number {
    this.touchedSessions.add(clientId)
    return this.journal.push(this.statements[name], params) - 2
  }

  /** Replaces a write recorded in this turn's journal (e.g. a queued message deleted, then sent: one update instead). */
  replace(at: number, name: StatementName, params: unknown[]): void {
    this.journal[at] = this.statements[name]
    this.journal[at + 1] = params
  }

  /** Records one write of a retained topic. */
  retained(topic: string, name: StatementName, params: unknown[]): void {
    this.touchedTopics.add(topic)
    this.journal.push(this.statements[name], params)
  }

  /** Runs a statement now, outside the journal (a rewrite, inside the commit's transaction). */
  run(name: StatementName, params: unknown[]): void {
    this.statements[name].run(...params)
  }

  get pending(): boolean {
    return this.journal.length > 0 || this.staleSessions.size > 0 || this.staleTopics.size > 0
  }

  commit(): Promise<void> | undefined {
    if (!this.pending) return undefined
    try {
      this.transaction()
      this.staleSessions.clear()
      this.staleTopics.clear()
      return undefined
    } catch (error) {
      this.failedCommits++
      for (const id of this.touchedSessions) this.staleSessions.add(id)
      for (const t of this.touchedTopics) this.staleTopics.add(t)
      return Promise.reject(new StoreError(`writing to ${this.file} failed: ${(error as Error).message}`, {cause: error}))
    } finally {
      this.journal = []
      this.touchedSessions.clear()
      this.touchedTopics.clear()
    }
  }

  private writeAll(): void {
    for (const id of this.staleSessions) for (const r of this.rewriters) r.rewriteSession(id)
    for (const t of this.staleTopics) for (const r of this.rewriters) r.rewriteRetained(t)
    const j = this.journal
    for (let i = 0; i < j.length; i += 2) (j[i] as Statement).run(...(j[i + 1] as unknown[]))
  }

  stats(): StoreStats {
    const count = (table: string): number => (this.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as {n: number}).n
    let bytes = 0
    for (const f of [this.file, `${this.file}-wal`]) {
      try {
        bytes += statSync(f).size
      } catch {
        // no WAL file right now
      }
    }
    return {
      file: this.file,
      bytes,
      sessions: count('sessions'),
      subscriptions: count('subscriptions'),
      queued: count('outbound WHERE packet_id IS NULL'),
      inflight: count('outbound WHERE packet_id IS NOT NULL'),
      retained: count('retained'),
      failedCommits: this.failedCommits,
    }
  }

  close(): void {
    if (this.db.open) this.db.close()
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

function openError(file: string, error: unknown): StoreError {
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
