/**
 * Banned client ids, user names and addresses (issue 13), checked at CONNECT before
 * authentication. Exact ids and names are map lookups; patterns and networks are lists
 * (a handful, in practice). An expired ban is dropped when it is next looked at: no timer.
 */
import {AddressSet} from './address.js'
import type {BanKind, BanSpec} from './config.js'

/** Where a ban came from. */
export type BanSource = 'config' | 'api' | 'flapping'

export interface Ban extends BanSpec {
  readonly source: BanSource
  /** ms since the epoch. */
  readonly createdAt: number
}

/** A ban as the admin API shows it. */
export interface BanInfo {
  kind: BanKind
  value: string
  regex: boolean
  reason: string | null
  source: BanSource
  createdAt: string
  until: string | null
}

export interface BanSubject {
  clientId: string
  username: string | undefined
  /** The client's address (normalized), when known. */
  address: string | undefined
}

export function banKey(kind: BanKind, value: string): string {
  return `${kind}\u0000${value}`
}

export function banInfo(b: Ban): BanInfo {
  return {
    kind: b.kind,
    value: b.value,
    regex: b.regex,
    reason: b.reason ?? null,
    source: b.source,
    createdAt: new Date(b.createdAt).toISOString(),
    until: b.until === undefined ? null : new Date(b.until).toISOString(),
  }
}

export class BanList {
  /** Every ban by kind + value (the key of DELETE). */
  private readonly all = new Map<string, Ban>()
  private readonly exactIds = new Map<string, Ban>()
  private readonly exactNames = new Map<string, Ban>()
  private patterns: Ban[] = []
  private networks: Array<{ban: Ban; set: AddressSet}> = []

  get size(): number {
    return this.all.size
  }

  /** Adds or replaces (same kind and value) a ban. */
  add(spec: BanSpec, source: BanSource, now = Date.now()): Ban {
    const ban: Ban = Object.freeze({...spec, source, createdAt: now})
    this.remove(spec.kind, spec.value)
    this.all.set(banKey(ban.kind, ban.value), ban)
    if (ban.kind === 'address') this.networks.push({ban, set: new AddressSet([ban.network!])})
    else if (ban.regex) this.patterns.push(ban)
    else (ban.kind === 'clientId' ? this.exactIds : this.exactNames).set(ban.value, ban)
    return ban
  }

  /** Removes a ban; false when there is none of that kind and value. */
  remove(kind: BanKind, value: string): boolean {
    const key = banKey(kind, value)
    const ban = this.all.get(key)
    if (ban === undefined) return false
    this.all.delete(key)
    if (ban.kind === 'address') this.networks = this.networks.filter((n) => n.ban !== ban)
    else if (ban.regex) this.patterns = this.patterns.filter((p) => p !== ban)
    else (ban.kind === 'clientId' ? this.exactIds : this.exactNames).delete(ban.value)
    return true
  }

  get(kind: BanKind, value: string): Ban | undefined {
    return this.all.get(banKey(kind, value))
  }

  /** The bans in force, oldest first (expired ones are dropped on the way). */
  list(now = Date.now()): Ban[] {
    const out: Ban[] = []
    for (const b of [...this.all.values()]) {
      if (b.until !== undefined && b.until <= now) this.remove(b.kind, b.value)
      else out.push(b)
    }
    return out
  }

  /** The first ban in force that covers this client, or undefined. */
  match(s: BanSubject, now = Date.now()): Ban | undefined {
    if (this.all.size === 0) return undefined
    let b = this.live(this.exactIds.get(s.clientId), now)
    if (b === undefined && s.username !== undefined) b = this.live(this.exactNames.get(s.username), now)
    if (b === undefined && s.address !== undefined) {
      for (const n of this.networks) {
        if (n.set.has(s.address) && (b = this.live(n.ban, now)) !== undefined) break
      }
    }
    if (b === undefined) {
      for (const p of this.patterns) {
        const v = p.kind === 'clientId' ? s.clientId : s.username
        if (v !== undefined && p.pattern!.test(v) && (b = this.live(p, now)) !== undefined) break
      }
    }
    return b
  }

  /** The ban itself while it is in force; an expired one is removed. */
  private live(b: Ban | undefined, now: number): Ban | undefined {
    if (b === undefined) return undefined
    if (b.until !== undefined && b.until <= now) {
      this.remove(b.kind, b.value)
      return undefined
    }
    return b
  }
}

/** Whether one ban covers a client (for disconnecting the connected clients a new ban covers). */
export function banCovers(ban: Ban, s: BanSubject): boolean {
  switch (ban.kind) {
    case 'address':
      return s.address !== undefined && new AddressSet([ban.network!]).has(s.address)
    case 'clientId':
      return ban.regex ? ban.pattern!.test(s.clientId) : ban.value === s.clientId
    case 'username':
      return s.username !== undefined && (ban.regex ? ban.pattern!.test(s.username) : ban.value === s.username)
  }
}
