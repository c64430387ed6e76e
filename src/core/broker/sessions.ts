/**
 * Session lifecycle: binding a connection to its session (fresh, resumed or taken over),
 * keeping or ending it when the connection goes, expiry, Wills (with MQTT 5 Will Delay),
 * handing a leaving shared-subscription member's messages to another member, and
 * rebuilding everything from the store at start.
 */
import type {SharedStrategy} from '../config.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import {parseSharedFilter, topicMatches} from '../protocol/topic.js'
import type {QoS} from '../protocol/codec.js'
import type {Bus, SessionHost} from './bus.js'
import type {ClientConnection} from './connection.js'
import type {Delivery} from './delivery.js'
import {isOnline} from './delivery.js'
import type {Message} from './message.js'
import {stampExpiry} from './message.js'
import {Session} from './session.js'
import type {Queued, SessionState} from './session-state.js'
import {expiresAt} from './session-state.js'
import type {SessionStore} from './session-store.js'
import type {SharedGroup} from './shared.js'
import type {Subscriptions} from './subscriptions.js'
import {Deadline} from './timers.js'
import {ConnState} from './types.js'
import type {MaybePromise} from '../maybe-async.js'
import {isPromise} from '../maybe-async.js'

export interface SessionLifecycleDeps {
  sharedStrategy: SharedStrategy
  store: SessionStore
  bus: Bus
  subscriptions: Subscriptions
  delivery: Delivery
}

function hasGroup(q: Queued): boolean {
  return q.group !== undefined
}

export class SessionLifecycle implements SessionHost {
  /** Connected clients by client id. */
  readonly clients = new Map<string, ClientConnection>()
  /** Every session this node holds, connected or not, by client id. */
  readonly sessions = new Map<string, Session>()
  private readonly strategy: SharedStrategy
  private readonly store: SessionStore
  private readonly bus: Bus
  private readonly subscriptions: Subscriptions
  private readonly delivery: Delivery

  constructor(deps: SessionLifecycleDeps) {
    this.strategy = deps.sharedStrategy
    this.store = deps.store
    this.bus = deps.bus
    this.subscriptions = deps.subscriptions
    this.delivery = deps.delivery
    this.delivery.onTakeOver = (clientId, by) => {
      const previous = this.clients.get(clientId)
      if (previous !== undefined) this.takeOver(previous, by)
    }
    this.bus.hostSessions?.(this)
  }

  /**
   * At start: every stored session back in the router, offline, with its expiry counted
   * from when its client left (across the downtime) and its delayed Will re-armed. A session
   * that expired while the broker was down ends now (its Will is published).
   */
  async restore(now = Date.now()): Promise<void> {
    for (const state of await this.store.restore()) {
      if (state.disconnectedAt === undefined) this.store.setDisconnectedAt(state, now)
      const session = this.hold(state)
      if (expiresAt(state) <= now) {
        this.discard(session)
        continue
      }
      this.armExpiry(session, now)
      if (state.will !== undefined) session.willTimer = new Deadline(Math.max(0, state.will.dueAt - now), willDue, this.willContext(session))
    }
  }

  /**
   * Binds a connection to its session: takes over a connection with the same id, starts
   * fresh or resumes. Returns "session present"; a promise only when the store must fetch
   * the session (e.g. from the cluster), and in memory never.
   */
  attach(conn: ClientConnection, cleanStart: boolean, expiryInterval: number): MaybePromise<boolean> {
    const id = conn.clientId
    conn.cleanStart = cleanStart
    const previous = this.clients.get(id)
    if (previous && previous !== conn) this.takeOver(previous, conn.remote)
    this.bus.claim(id, cleanStart)
    const held = this.sessions.get(id)
    if (held !== undefined) return this.bind(conn, held, cleanStart, expiryInterval)
    const stored = this.store.load(id)
    if (!isPromise(stored)) return this.bind(conn, this.holdLoaded(id, stored), cleanStart, expiryInterval)
    return stored.then((state) => (conn.state === ConnState.Connecting ? this.bind(conn, this.holdLoaded(id, state), cleanStart, expiryInterval) : false))
  }

  /** A session the store had; another CONNECT with this id that loaded it meanwhile wins the object. */
  private holdLoaded(id: string, stored: SessionState | undefined): Session | undefined {
    let session = this.sessions.get(id)
    if (session === undefined && stored !== undefined) this.sessions.set(id, (session = new Session(stored)))
    return session
  }

  private bind(conn: ClientConnection, found: Session | undefined, cleanStart: boolean, expiryInterval: number): boolean {
    const id = conn.clientId
    let session = found
    const current = this.clients.get(id)
    // Another CONNECT with the same id won the race while the store was asked: it is taken over too.
    if (current && current !== conn) this.takeOver(current, conn.remote)
    let present = session !== undefined
    if (session !== undefined && cleanStart) {
      this.discard(session)
      session = undefined
      present = false
    }
    if (session === undefined) {
      session = new Session(this.store.create(id, expiryInterval))
      this.sessions.set(id, session)
    }
    session.expiryTimer?.cancel()
    session.expiryTimer = undefined
    if (session.state.will !== undefined) {
      // MQTT-3.1.3-9: a new connection to the session before the Will Delay has passed cancels the Will.
      session.willTimer?.cancel()
      session.willTimer = undefined
      this.store.setWill(session.state, undefined)
    }
    if (session.state.expiryInterval !== expiryInterval) this.store.setExpiry(session.state, expiryInterval)
    this.store.setDisconnectedAt(session.state, undefined)
    session.client = conn
    conn.session = session
    this.clients.set(id, conn)
    if (conn.will !== undefined) this.bus.holdWill?.(id, conn.will)
    return present
  }

  // ---- sessions moving between nodes (SessionHost, for a cluster Bus) ----

  /** A session from another node, held here offline: its subscriptions routed, its expiry armed. */
  adopt(state: SessionState): void {
    if (this.sessions.has(state.clientId)) return
    this.armExpiry(this.hold(state), Date.now())
  }

  /** A stored session held here, offline: its subscriptions back in the router. */
  private hold(state: SessionState): Session {
    const session = new Session(state)
    this.sessions.set(state.clientId, session)
    if (state.subscriptions !== undefined) {
      for (const [filter, options] of state.subscriptions) {
        const share = parseSharedFilter(filter)
        this.subscriptions.route(session, filter, options, typeof share === 'object' ? share : undefined)
      }
    }
    return session
  }

  /** Another node takes the session: the connection here is taken over, the session leaves without its Will. */
  release(clientId: string, by: string, keepConnected = false): SessionState | undefined {
    const conn = this.clients.get(clientId)
    if (conn !== undefined) {
      if (keepConnected) return undefined
      this.takeOver(conn, by)
    }
    const session = this.sessions.get(clientId)
    if (session === undefined || session.client !== undefined) return undefined
    session.expiryTimer?.cancel()
    session.willTimer?.cancel()
    session.expiryTimer = session.willTimer = undefined
    this.subscriptions.unrouteAll(session)
    this.sessions.delete(clientId)
    this.store.delete(session.state)
    return session.state
  }

  /** A stored message for one session: under its own (not shared) subscriptions, at the highest QoS that matches. */
  replay(clientId: string, message: Message): boolean {
    const session = this.sessions.get(clientId)
    const subs = session?.state.subscriptions
    if (session === undefined || subs === undefined) return false
    let qos = -1
    let asPublished = false
    let ids: number[] | undefined
    for (const [filter, o] of subs) {
      if (parseSharedFilter(filter) !== undefined || !topicMatches(filter, message.topic)) continue
      if (o.qos > qos) qos = o.qos
      if (o.retainAsPublished) asPublished = true
      if (o.subscriptionId !== undefined) (ids ??= []).push(o.subscriptionId)
    }
    if (qos < 0) return false
    this.delivery.deliverTo(session, message, Math.min(qos, message.qos) as QoS, asPublished && message.retain, ids)
    return true
  }

  /** MQTT-3.1.4-3: the existing connection of a client id is closed (MQTT 5: DISCONNECT 0x8E); its Will follows the usual rules. */
  takeOver(previous: ClientConnection, by: string): void {
    this.clients.delete(previous.clientId)
    previous.close(ReasonCode.SessionTakenOver, `session taken over by ${by}`)
    this.releaseWill(previous)
    this.bus.dropWill?.(previous.clientId)
    this.detach(previous)
  }

  /** The connection of a client closed: its Will, then its session kept or ended. */
  closed(conn: ClientConnection): void {
    if (this.clients.get(conn.clientId) === conn) {
      this.clients.delete(conn.clientId)
      this.bus.dropWill?.(conn.clientId)
    }
    this.releaseWill(conn)
    this.detach(conn)
  }

  /** Changes the session expiry of a connected client (MQTT 5 DISCONNECT). */
  setExpiry(session: Session, expiryInterval: number): void {
    this.store.setExpiry(session.state, expiryInterval)
  }

  /** Unbinds a closing connection from its session, keeping or ending the session. */
  private detach(conn: ClientConnection): void {
    const session = conn.session
    if (!session || session.client !== conn) return
    session.client = undefined
    const ending = session.state.expiryInterval === 0
    if (!ending) this.releaseShared(session, false)
    if (ending) {
      this.discard(session)
      return
    }
    const now = Date.now()
    this.store.setDisconnectedAt(session.state, now)
    this.armExpiry(session, now)
  }

  private armExpiry(session: Session, now: number): void {
    const at = expiresAt(session.state)
    if (at !== Number.POSITIVE_INFINITY) session.expiryTimer = new Deadline(at - now, expire, this.willContext(session))
  }

  /** Ends a session: its subscriptions and queued messages are gone; a delayed Will is published now. */
  discard(session: Session): void {
    const orphans = this.releaseShared(session, true)
    this.subscriptions.unrouteAll(session)
    // No other member here: a cluster Bus gives them to a member on another node (this node has left the group now).
    if (orphans !== undefined) for (const o of orphans) this.bus.redeliverShared!(o.group!, o.message)
    session.expiryTimer?.cancel()
    session.expiryTimer = undefined
    const will = session.state.will
    session.willTimer?.cancel()
    session.willTimer = undefined
    this.store.delete(session.state)
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId)
    if (will !== undefined) this.publishWill(will.message)
  }

  // ---- Wills ----

  /**
   * The connection is over without a normal DISCONNECT: its Will is published now, or, with
   * an MQTT 5 Will Delay Interval and a session that outlives the connection, when the delay
   * or the session ends, whichever comes first (MQTT 5 §3.1.3.2.2).
   */
  private releaseWill(conn: ClientConnection): void {
    const will = conn.will
    if (will === undefined) return
    conn.will = undefined
    if (conn.graceful) return
    const session = conn.session
    const delay = conn.willDelay
    if (delay > 0 && session !== undefined && session.state.expiryInterval > 0) {
      const pending = session.state.will
      if (pending !== undefined) this.publishWill(pending.message)
      session.willTimer?.cancel()
      const ms = Math.min(delay, session.state.expiryInterval) * 1000
      this.store.setWill(session.state, {message: will, dueAt: Date.now() + ms})
      session.willTimer = new Deadline(ms, willDue, this.willContext(session))
      return
    }
    this.publishWill(will)
  }

  /** The Will Delay of a session ran out. */
  fireWill(session: Session): void {
    const will = session.state.will
    session.willTimer = undefined
    if (will === undefined) return
    this.store.setWill(session.state, undefined)
    this.publishWill(will.message)
  }

  /** The expiry of an offline session ran out. */
  expire(session: Session): void {
    session.expiryTimer = undefined
    if (session.client === undefined) this.discard(session)
  }

  private publishWill(will: Message): void {
    stampExpiry(will, Date.now())
    this.delivery.publish(will, null)
  }

  private willContext(session: Session): TimerContext {
    return {lifecycle: this, session}
  }

  // ---- shared subscriptions ----

  /**
   * A member of a shared subscription is leaving: its messages from shared subscriptions
   * that were not acknowledged (or not yet sent) go to another member (MQTT 5 §4.8.2) — to an
   * online one; when the session ends, to any other member. Without one they stay.
   */
  private releaseShared(session: Session, ending: boolean): Queued[] | undefined {
    if (session.inflightCount === 0 && session.queuedCount === 0) return undefined
    const state = session.state
    // The session ends and no member is left here: with a cluster Bus, a member on another node gets them.
    let orphans: Queued[] | undefined
    const adopt = ending && this.bus.redeliverShared !== undefined
    if (state.inflight !== undefined) {
      for (const [id, e] of state.inflight) {
        if (e.group === undefined || e.stage !== 'publish') continue
        const group = this.subscriptions.groups.get(e.group)
        const other = group && this.otherMember(group, session, ending)
        if (other === undefined && !adopt) continue
        this.store.inflightAck(state, id)
        if (other !== undefined) this.delivery.handOver(other, group!, e.message)
        else (orphans ??= []).push(e)
      }
    }
    if (session.queuedCount === 0) return orphans
    for (const q of this.store.takeQueued(state, hasGroup)) {
      const group = this.subscriptions.groups.get(q.group!)
      const other = group && this.otherMember(group, session, ending)
      if (other !== undefined) this.delivery.handOver(other, group!, q.message)
      else if (!ending) this.delivery.enqueue(session, q)
      else if (adopt) (orphans ??= []).push(q)
    }
    return orphans
  }

  private otherMember(group: SharedGroup, leaving: Session, ending: boolean): Session | undefined {
    const other = group.pick(this.strategy, leaving)
    return other !== undefined && (ending || isOnline(other)) ? other : undefined
  }
}

/** What a session's timers call back with: no closure per session. */
interface TimerContext {
  lifecycle: SessionLifecycle
  session: Session
}

function willDue(ctx: TimerContext): void {
  ctx.lifecycle.fireWill(ctx.session)
}

function expire(ctx: TimerContext): void {
  ctx.lifecycle.expire(ctx.session)
}

