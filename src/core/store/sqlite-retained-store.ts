/**
 * Retained messages in SQLite: all of them are also kept in memory (as the memory store
 * does, and as Mosquitto does), so a subscribe reads no disk; each change is a row write
 * committed with the turn's transaction.
 */
import {MemoryRetainedStore} from '../broker/retained-store.js'
import type {Message} from '../broker/message.js'
import {messageFromBlob, messageToBlob} from './message-blob.js'
import type {Rewriter, SqliteDatabase, Write} from './sqlite-db.js'

export class SqliteRetainedStore extends MemoryRetainedStore implements Rewriter {
  override readonly durable = true
  readonly database: SqliteDatabase

  constructor(database: SqliteDatabase) {
    super()
    this.database = database
    database.addRewriter(this)
    database.retainedCount = () => this.size
  }

  override restore(): Promise<void> {
    this.byTopic.clear()
    const now = Date.now()
    const rows = this.database.reader.prepare('SELECT * FROM retained').all() as Array<{topic: string; message: Buffer; expires_at: number | null; stored_at: number | null; publisher: string | null}>
    for (const r of rows) {
      if (r.expires_at !== null && r.expires_at <= now) {
        this.database.retained(r.topic, 'deleteRetained', [r.topic])
        continue
      }
      const m = messageFromBlob(r.message, r.expires_at)
      if (r.stored_at !== null) m.storedAt = r.stored_at
      if (r.publisher !== null) m.publisher = r.publisher
      this.byTopic.set(r.topic, m)
    }
    return Promise.resolve()
  }

  override set(message: Message): void {
    super.set(message)
    const topic = message.topic
    this.rewriteRetained(topic, (name, params) => this.database.retained(topic, name, params))
  }

  /** Both stores share one database: the session store's commit writes everything. */
  override commit(): Promise<void> | undefined {
    return this.database.commit()
  }

  override close(): Promise<void> {
    return this.database.close()
  }

  rewriteSession(): void {}

  rewriteRetained(topic: string, write: Write): void {
    const m = this.byTopic.get(topic)
    if (m === undefined) write('deleteRetained', [topic])
    else write('putRetained', [topic, messageToBlob(m), m.expiresAt ?? null, m.storedAt ?? null, m.publisher ?? null])
  }

  /** An expired message found while reading is gone from the disk too. */
  protected override forget(topic: string): void {
    super.forget(topic)
    this.database.retained(topic, 'deleteRetained', [topic])
  }

}
