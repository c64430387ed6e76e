/**
 * The writer thread: it holds the database (exclusively) once the broker has read it at
 * start, and runs each commit's journal in one transaction, so the broker's event loop
 * never waits for SQLite. Messages: open → ready | failed; commit {id, ops} → done {id,
 * error?}; exec {id, sql} → done {id, result}; close → closed.
 */
import {parentPort, workerData} from 'node:worker_threads'
import type BetterSqlite3 from 'better-sqlite3'
import {openConnection, prepareAll} from './sqlite-schema.js'
import type {ConnectionOptions, StatementName, Statements} from './sqlite-schema.js'

export interface WriterData {
  file: string
  options: ConnectionOptions
}

export type WriterRequest = {type: 'commit'; id: number; ops: unknown[]} | {type: 'exec'; id: number; sql: string} | {type: 'close'}

export type WriterReply =
  | {type: 'ready'}
  | {type: 'failed'; message: string; code?: string}
  | {type: 'done'; id: number; error?: {message: string; code?: string}; result?: unknown}
  | {type: 'closed'}

const port = parentPort!
const data = workerData as WriterData
let db: BetterSqlite3.Database
let statements: Statements
let run: (ops: unknown[]) => void

try {
  db = openConnection(data.file, {...data.options, check: false})
  statements = prepareAll(db)
  run = db.transaction((ops: unknown[]) => {
    for (let i = 0; i < ops.length; i += 2) statements[ops[i] as StatementName].run(...(ops[i + 1] as unknown[]))
  })
  port.postMessage({type: 'ready'} satisfies WriterReply)
} catch (error) {
  const e = error as {message: string; code?: string}
  port.postMessage({type: 'failed', message: e.message, code: e.code} satisfies WriterReply)
}

port.on('message', (m: WriterRequest) => {
  if (m.type === 'close') {
    db?.close()
    port.postMessage({type: 'closed'} satisfies WriterReply)
    port.close()
    return
  }
  try {
    const result = m.type === 'commit' ? run(m.ops) : /^\s*pragma\s/i.test(m.sql) ? db.pragma(m.sql.replace(/^\s*pragma\s+/i, ''), {simple: true}) : db.exec(m.sql) && undefined
    port.postMessage({type: 'done', id: m.id, result} satisfies WriterReply)
  } catch (error) {
    const e = error as {message: string; code?: string}
    port.postMessage({type: 'done', id: m.id, error: {message: e.message, code: e.code}} satisfies WriterReply)
  }
})
