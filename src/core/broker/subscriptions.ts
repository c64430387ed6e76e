/**
 * Subscriptions: the router (topic trie) and the shared subscription groups, kept in step
 * with each session's stored subscriptions and with the Bus's interest. A shared group
 * ($share/GROUP/FILTER) is one subscriber in the router that hands each message to one
 * member (shared.ts).
 */
import type {SharedFilter} from '../protocol/topic.js'
import {parseSharedFilter} from '../protocol/topic.js'
import type {Bus} from './bus.js'
import {Router} from './router.js'
import type {Session} from './session.js'
import type {SubscriptionOptions} from './session-state.js'
import type {SessionStore} from './session-store.js'
import {SharedGroup, sharedKey} from './shared.js'

/** What the router holds: a session's own subscription, or a shared subscription group. */
export type Subscriber = Session | SharedGroup

/** Router options of a group entry; each member's own options live in the group. */
const GROUP_OPTS: SubscriptionOptions = Object.freeze({qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 2}) as SubscriptionOptions

export class Subscriptions {
  readonly router = new Router<Subscriber, SubscriptionOptions>()
  /** Shared subscription groups by "$share/GROUP/FILTER". */
  readonly groups = new Map<string, SharedGroup>()
  private readonly store: SessionStore
  private readonly bus: Bus

  constructor(store: SessionStore, bus: Bus) {
    this.store = store
    this.bus = bus
  }

  /** Adds or replaces one subscription of a session (a shared one joins its group) and stores it. */
  add(session: Session, filter: string, options: SubscriptionOptions, share: SharedFilter | undefined): void {
    this.route(session, filter, options, share)
    this.store.subscribe(session.state, filter, options)
  }

  /** Puts a subscription in the router (also for sessions restored at start, which are stored already). */
  route(session: Session, filter: string, options: SubscriptionOptions, share: SharedFilter | undefined): void {
    if (share === undefined) {
      if (this.router.add(filter, session, options)) this.bus.addInterest(filter)
      return
    }
    const key = sharedKey(share.group, share.filter)
    let group = this.groups.get(key)
    if (group === undefined) {
      group = new SharedGroup(share.group, share.filter)
      this.groups.set(key, group)
      if (this.bus.addShared !== undefined) this.bus.addShared(key, share.filter)
      else {
        this.router.add(share.filter, group, GROUP_OPTS)
        this.bus.addInterest(share.filter)
      }
    }
    group.add(session, options)
  }

  /** Removes one subscription; returns whether it existed. */
  remove(session: Session, filter: string): boolean {
    if (!this.store.unsubscribe(session.state, filter)) return false
    this.unroute(session, filter)
    return true
  }

  /** Takes every subscription of a session out of the router (its stored ones are the caller's to clear). */
  unrouteAll(session: Session): void {
    const subs = session.state.subscriptions
    if (subs !== undefined) for (const filter of subs.keys()) this.unroute(session, filter)
  }

  private unroute(session: Session, filter: string): void {
    const share = parseSharedFilter(filter)
    if (typeof share !== 'object') {
      if (this.router.remove(filter, session)) this.bus.removeInterest(filter)
      return
    }
    const group = this.groups.get(sharedKey(share.group, share.filter))
    if (group === undefined || !group.remove(session) || group.size > 0) return
    this.groups.delete(group.key)
    if (this.bus.removeShared !== undefined) return this.bus.removeShared(group.key)
    this.router.remove(group.filter, group)
    this.bus.removeInterest(group.filter)
  }
}
