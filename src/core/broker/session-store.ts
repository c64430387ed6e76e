import {Session} from './session.js'

/**
 * Where sessions live between connections. In memory by default; the interface is
 * async so that a durable store can plug in without changing the broker.
 */
export interface SessionStore {
  load(clientId: string): Promise<Session | undefined>
  /** Returns the session for clientId, creating an empty one when there is none. */
  open(clientId: string): Promise<Session>
  delete(clientId: string): Promise<void>
  readonly size: number
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Session>()

  get size(): number {
    return this.sessions.size
  }

  load(clientId: string): Promise<Session | undefined> {
    return Promise.resolve(this.sessions.get(clientId))
  }

  open(clientId: string): Promise<Session> {
    let s = this.sessions.get(clientId)
    if (!s) this.sessions.set(clientId, (s = new Session(clientId)))
    return Promise.resolve(s)
  }

  delete(clientId: string): Promise<void> {
    this.sessions.delete(clientId)
    return Promise.resolve()
  }
}
