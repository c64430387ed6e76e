/**
 * The broker's SQLite database (better-sqlite3, WAL mode): the write journal both stores
 * record into, and the commit that writes one event-loop turn's journal in one
 * transaction.
 *
 * At start the broker's thread opens the file (with clear errors: damaged, from a newer
 * mqttws, in use by another process), migrates it, and the stores read it. From the first
 * commit on, a writer thread (sqlite-writer.ts) holds the file and runs the commits, so
 * the broker's event loop never waits for SQLite: commit() returns a promise that settles
 * when the transaction did. With `writerThread: false` commits run in the caller's thread
 * and a successful one returns undefined at once.
 *
 * A failed commit leaves memory ahead of the disk for the sessions and topics it touched:
 * they are marked and rewritten whole (from memory) by the next commit, so the disk
 * catches up when it can be written again (ENOSPC, EIO). Every statement is keyed by exact
 * ids, so writing a row again is harmless.
 */
import {mkdirSync, statSync} from 'node:fs'
import path from 'node:path'
import {Worker} from 'node:worker_threads'
import type BetterSqlite3 from 'better-sqlite3'
import {ConfigError, StoreError} from '../errors.js'
import {DB_FILE, openConnection, prepareAll} from './sqlite-schema.js'
import type {StatementName, Statements, SyncMode} from './sqlite-schema.js'
import type {WriterReply, WriterRequest} from './sqlite-writer.js'

export {DB_FILE, SCHEMA_VERSION} from './sqlite-schema.js'
export type {StatementName, SyncMode} from './sqlite-schema.js'

export interface SqliteOptions {
  /** The data directory; created when missing. */
  dir: string
  synchronous?: SyncMode
  /** Hold the database for this process alone (default). Off only to read a running broker's file (tests, tools). */
  exclusive?: boolean
  /** Commit on a writer thread (default); false: in the caller's thread. */
  writerThread?: boolean
}

/** Writes one row change: a statement and its parameters. */
export type Write = (name: StatementName, params: unknown[]) => void

/** Rewrites whole what a failed commit left behind (the stores implement it). */
export interface Rewriter {
  rewriteSession(clientId: string, write: Write): void
  rewriteRetained(topic: string, write: Write): void
}

export interface StoreStats {
  file: string
  /** The database file and its write-ahead log, in bytes. */
  bytes: number
  /** Commits that failed since start. */
  failedCommits: number
}

interface Waiting {
  resolve: (result: unknown) => void
  reject: (error: StoreError) => void
}

export class SqliteDatabase {
  readonly file: string
  private readonly options: SqliteOptions
  /** The broker thread's connection: reading at start, and commits without a writer thread. */
  private db: BetterSqlite3.Database | undefined
  private statements: Statements | undefined
  private runInProcess: ((ops: unknown[]) => void) | undefined
  /** This turn's writes: statement name, parameters, name, parameters… */
  private journal: unknown[] = []
  /** Sessions and retained topics this turn wrote to. */
  private touchedSessions = new Set<string>()
  private touchedTopics = new Set<string>()
  /** What a failed commit left unwritten, rewritten whole by the next commit. */
  private staleSessions = new Set<string>()
  private staleTopics = new Set<string>()
  private readonly rewriters: Rewriter[] = []
  private writer: Worker | undefined
  private writerError: StoreError | undefined
  private readonly waiting = new Map<number, Waiting>()
  private nextId = 0
  private closing: Promise<void> | undefined
  /** The next outbound-message position. */
  private seq: number
  failedCommits = 0
  /** How many retained messages the retained store holds (for stats). */
  retainedCount: () => number = () => 0

  private constructor(db: BetterSqlite3.Database, file: string, options: SqliteOptions) {
    this.db = db
    this.file = file
    this.options = options
    const max = db.prepare('SELECT MAX(seq) AS s FROM outbound').get() as {s: number | null}
    this.seq = max.s ?? 0
  }

  /** Opens (or creates) DIR/mqttws.db; throws a StoreError or ConfigError that says what to do when it cannot. */
  static open(options: SqliteOptions): SqliteDatabase {
    const file = path.join(options.dir, DB_FILE)
    try {
      mkdirSync(options.dir, {recursive: true})
    } catch (error) {
      throw new ConfigError(`data directory ${options.dir}: cannot create it (${(error as Error).message}): pick a directory you can write to`, {cause: error})
    }
    return new SqliteDatabase(openConnection(file, {synchronous: options.synchronous, exclusive: options.exclusive}), file, options)
  }

  /** The connection the stores read at start (before the first commit). */
  get reader(): BetterSqlite3.Database {
    if (this.db === undefined) throw new StoreError(`${this.file}: the stores are read at start, before anything is written`)
    return this.db
  }

  addRewriter(r: Rewriter): void {
    this.rewriters.push(r)
  }

  nextSeq(): number {
    return ++this.seq
  }

  /** Records one write of a session's rows; returns its place in the journal (see replace()). */
  session(clientId: string, name: StatementName, params: unknown[]): number {
    this.touchedSessions.add(clientId)
    return this.journal.push(name, params) - 2
  }

  /** Replaces a write recorded in this turn's journal (a queued message deleted, then sent: one update instead). */
  replace(at: number, name: StatementName, params: unknown[]): void {
    this.journal[at] = name
    this.journal[at + 1] = params
  }

  /** Records one write of a retained topic. */
  retained(topic: string, name: StatementName, params: unknown[]): void {
    this.touchedTopics.add(topic)
    this.journal.push(name, params)
  }

  get pending(): boolean {
    return this.journal.length > 0 || this.staleSessions.size > 0 || this.staleTopics.size > 0
  }

  /** Writes the journal in one transaction; undefined when there was nothing to write (or it was written already). */
  commit(): Promise<void> | undefined {
    if (!this.pending) return undefined
    let ops = this.journal
    this.journal = []
    const touched = {sessions: this.touchedSessions, topics: this.touchedTopics}
    this.touchedSessions = new Set()
    this.touchedTopics = new Set()
    if (this.staleSessions.size > 0 || this.staleTopics.size > 0) {
      // Rewrite what failed before, from memory, ahead of this turn's changes.
      const before: unknown[] = []
      const write: Write = (name, params) => void before.push(name, params)
      for (const id of this.staleSessions) for (const r of this.rewriters) r.rewriteSession(id, write)
      for (const t of this.staleTopics) for (const r of this.rewriters) r.rewriteRetained(t, write)
      for (const id of this.staleSessions) touched.sessions.add(id)
      for (const t of this.staleTopics) touched.topics.add(t)
      this.staleSessions = new Set()
      this.staleTopics = new Set()
      ops = before.concat(ops)
    }
    if (this.options.writerThread !== false && this.writer === undefined && this.closing === undefined) this.startWriter()
    if (this.writer === undefined) {
      try {
        this.inProcess(ops)
        return undefined
      } catch (error) {
        return Promise.reject(this.failed(touched, (error as Error).message, error))
      }
    }
    return this.request({type: 'commit', id: 0, ops}).then(
      () => undefined,
      (error: StoreError) => {
        throw this.failed(touched, error.message, error)
      },
    )
  }

  /** Runs SQL on the connection that writes (PRAGMAs return their value): for tools and tests. */
  exec(sql: string): Promise<unknown> {
    if (this.writer !== undefined) return this.request({type: 'exec', id: 0, sql})
    try {
      const db = this.reader
      return Promise.resolve(/^\s*pragma\s/i.test(sql) ? db.pragma(sql.replace(/^\s*pragma\s+/i, ''), {simple: true}) : (db.exec(sql), undefined))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  stats(): StoreStats {
    let bytes = 0
    for (const f of [this.file, `${this.file}-wal`]) {
      try {
        bytes += statSync(f).size
      } catch {
        // no WAL file right now
      }
    }
    return {file: this.file, bytes, failedCommits: this.failedCommits}
  }

  /** Closes the database (waits for the commits under way). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const writer = this.writer
      if (writer !== undefined) {
        await new Promise<void>((resolve) => {
          writer.once('exit', () => resolve())
          writer.postMessage({type: 'close'} satisfies WriterRequest)
        })
        this.writer = undefined
      }
      if (this.db?.open) this.db.close()
      this.db = undefined
    })()
    return this.closing
  }

  private failed(touched: {sessions: Set<string>; topics: Set<string>}, message: string, cause: unknown): StoreError {
    this.failedCommits++
    for (const id of touched.sessions) this.staleSessions.add(id)
    for (const t of touched.topics) this.staleTopics.add(t)
    return new StoreError(`writing to ${this.file} failed: ${message}`, {cause})
  }

  private inProcess(ops: unknown[]): void {
    const db = this.reader
    if (this.runInProcess === undefined) {
      const statements = (this.statements ??= prepareAll(db))
      this.runInProcess = db.transaction((list: unknown[]) => {
        for (let i = 0; i < list.length; i += 2) statements[list[i] as StatementName].run(...(list[i + 1] as unknown[]))
      })
    }
    this.runInProcess(ops)
  }

  /** Hands the file to the writer thread: this thread's connection closes (and with it its lock). */
  private startWriter(): void {
    if (this.db?.open) this.db.close()
    this.db = undefined
    this.runInProcess = undefined
    this.statements = undefined
    const workerData = {file: this.file, options: {synchronous: this.options.synchronous, exclusive: this.options.exclusive}}
    // Run from the sources (tests, bin/dev.js), the entry is the .ts file: it is loaded through tsx.
    const worker = import.meta.url.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./sqlite-writer.ts', import.meta.url).href)}) })`, {eval: true, workerData})
      : new Worker(new URL('./sqlite-writer.js', import.meta.url), {workerData})
    // The broker's listeners keep the process alive; the writer alone must not.
    worker.unref()
    worker.on('message', (m: WriterReply) => this.onReply(m))
    worker.on('error', (error) => this.stopWriter(`the writer thread failed: ${error.message}`))
    worker.on('exit', (code) => this.stopWriter(`the writer thread stopped (exit code ${code})`))
    this.writer = worker
  }

  private onReply(m: WriterReply): void {
    if (m.type === 'failed') {
      this.stopWriter(`${this.file} could not be opened for writing: ${m.message}`)
      return
    }
    if (m.type !== 'done') return
    const w = this.waiting.get(m.id)
    if (w === undefined) return
    this.waiting.delete(m.id)
    if (m.error === undefined) w.resolve(m.result)
    else w.reject(new StoreError(m.error.message))
  }

  private stopWriter(reason: string): void {
    this.writerError ??= new StoreError(reason)
    for (const w of this.waiting.values()) w.reject(this.writerError)
    this.waiting.clear()
  }

  private request(m: WriterRequest & {id: number}): Promise<unknown> {
    if (this.writerError !== undefined) return Promise.reject(this.writerError)
    const id = ++this.nextId
    return new Promise((resolve, reject) => {
      this.waiting.set(id, {resolve, reject})
      this.writer!.postMessage({...m, id})
    })
  }
}
