/**
 * Shared subscriptions (MQTT 5 §4.8.2): `$share/GROUP/FILTER`, and EMQX's `$queue/FILTER`
 * (the group "$queue"). A group sits in the router as one subscriber; each message that
 * matches goes to exactly one member, chosen by the configured strategy among the members
 * that are online (an offline member's session only when none is).
 */
import type {SharedStrategy} from '../config.js'
import type {Session} from './session.js'
import type {SubscriptionOptions} from './session-state.js'
import {ConnState} from './types.js'

function online(s: Session): boolean {
  return s.client !== undefined && s.client.state === ConnState.Connected
}

export class SharedGroup {
  /** Tells a group from a Session in the router's visitor. */
  readonly isGroup = true
  /** "$share/GROUP/FILTER" (also for $queue/FILTER), the key of Subscriptions.groups. */
  readonly key: string
  readonly name: string
  readonly filter: string
  readonly members: Session[] = []
  /** Each member's own subscription options (QoS, subscription id, retain as published). */
  readonly options = new Map<Session, SubscriptionOptions>()
  private next = 0
  private sticky: Session | undefined

  constructor(name: string, filter: string) {
    this.name = name
    this.filter = filter
    this.key = sharedKey(name, filter)
  }

  get size(): number {
    return this.members.length
  }

  add(session: Session, opts: SubscriptionOptions): void {
    if (!this.options.has(session)) this.members.push(session)
    this.options.set(session, opts)
  }

  remove(session: Session): boolean {
    if (!this.options.delete(session)) return false
    const i = this.members.indexOf(session)
    this.members.splice(i, 1)
    if (this.next > i) this.next--
    if (this.sticky === session) this.sticky = undefined
    return true
  }

  /**
   * The member that gets the next message, or undefined when there is none besides
   * `exclude`. Online members come first; with none online, an offline member (whose
   * session queues QoS 1/2) in round-robin order.
   */
  pick(strategy: SharedStrategy, exclude?: Session): Session | undefined {
    const n = this.members.length
    if (n === 0) return undefined
    if (strategy === 'sticky') {
      const s = this.sticky
      if (s !== undefined && s !== exclude && online(s)) return s
    }
    const from = strategy === 'random' ? Math.floor(Math.random() * n) : this.next
    for (let k = 0; k < n; k++) {
      const i = (from + k) % n
      const s = this.members[i]
      if (s !== exclude && online(s)) {
        this.next = i + 1
        if (strategy === 'sticky') this.sticky = s
        return s
      }
    }
    for (let k = 0; k < n; k++) {
      const i = (from + k) % n
      const s = this.members[i]
      if (s !== exclude) {
        this.next = i + 1
        return s
      }
    }
    return undefined
  }
}

export function sharedKey(name: string, filter: string): string {
  return `$share/${name}/${filter}`
}
