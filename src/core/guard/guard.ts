/**
 * The broker's abuse protection at CONNECT (issue 13): bans and flapping detection, checked
 * before authentication, and the shared resumer of clients paused by their message rate.
 * The Broker owns one Guard (Broker.guard); handlers/connect.ts asks `checkConnect`.
 */
import type {Logger} from '../logger.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import {hostOfRemote} from './address.js'
import type {Ban, BanSource, BanSubject} from './bans.js'
import {BanList} from './bans.js'
import type {BanKind, BanSpec, GuardConfig} from './config.js'
import {GUARD_DEFAULTS, resolveBan} from './config.js'
import {FlappingDetector} from './flapping.js'
import {Resumer} from './rate-limit.js'

export interface ConnectRefusal {
  reasonCode: number
  reason: string
  /** The listener counter (rejected reason) it counts under. */
  counter: 'banned' | 'flapping'
  ban: Ban
}

export interface GuardOptions {
  /** Flapping detection when guard.flapping.enabled is not set: on when authentication is configured. */
  authConfigured?: boolean
  log?: Logger
  /** A ban was added (API, flapping): the broker disconnects the connected clients it covers and says how many. */
  onBan?: (ban: Ban) => number
}

function describe(ban: Ban): string {
  const what = ban.kind === 'address' ? `address ${ban.value}` : `${ban.kind === 'clientId' ? 'client id' : 'user name'} ${ban.regex ? 'pattern ' : ''}"${ban.value}"`
  const until = ban.until === undefined ? '' : ` until ${new Date(ban.until).toISOString()}`
  return `${what} is banned${until}${ban.reason === undefined ? '' : ` (${ban.reason})`}`
}

export class Guard {
  readonly config: GuardConfig
  readonly bans = new BanList()
  readonly flapping: FlappingDetector | undefined
  readonly resumer = new Resumer()
  private readonly onBan: ((ban: Ban) => number) | undefined
  private readonly log: Logger | undefined
  private readonly watchers: Array<() => void> = []

  constructor(config: GuardConfig = GUARD_DEFAULTS, options: GuardOptions = {}) {
    this.config = config
    this.onBan = options.onBan
    this.log = options.log
    const on = config.flapping.enabled ?? options.authConfigured === true
    this.flapping = on ? new FlappingDetector(config.flapping) : undefined
    for (const b of config.bans) this.bans.add(b, 'config')
  }

  /**
   * At CONNECT, before authentication: refused when a ban covers the client (CONNACK 0x8A,
   * 3.1.1 return code 5), or when this CONNECT makes its client id or address flap (which bans it).
   */
  checkConnect(clientId: string, username: string | undefined, remote: string, now = Date.now()): ConnectRefusal | undefined {
    if (this.bans.size === 0 && this.flapping === undefined) return undefined
    const subject: BanSubject = {clientId, username, address: hostOfRemote(remote)}
    const ban = this.bans.match(subject, now)
    if (ban !== undefined) return {reasonCode: ReasonCode.Banned, reason: describe(ban), counter: 'banned', ban}
    const flap = this.flapping?.connect(clientId, subject.address, now)
    if (flap === undefined) return undefined
    const c = this.flapping!.config
    const spec = resolveBan(
      {[flap.kind]: flap.value, duration: Math.ceil(c.banMs / 1000), reason: `flapping: ${flap.count} connects within ${c.windowMs / 1000} s`},
      'flapping',
      now,
    )
    const {ban: added} = this.add(spec, 'flapping', now)
    this.log?.info('client banned for flapping', {[flap.kind]: flap.value, connects: flap.count, seconds: c.banMs / 1000})
    return {reasonCode: ReasonCode.Banned, reason: describe(added), counter: 'flapping', ban: added}
  }

  /** Adds (or replaces) a ban; the connected clients it covers are disconnected (onBan): how many is returned too. */
  add(spec: BanSpec, source: BanSource, now = Date.now()): {ban: Ban; disconnected: number} {
    const ban = this.bans.add(spec, source, now)
    const disconnected = this.onBan?.(ban) ?? 0
    this.changed()
    return {ban, disconnected}
  }

  remove(kind: BanKind, value: string): boolean {
    const removed = this.bans.remove(kind, value)
    if (removed) this.changed()
    return removed
  }

  /** Calls `fn` after every ban added or removed through the Guard (API, flapping): e.g. to save them (serve --data-dir). */
  watch(fn: () => void): void {
    this.watchers.push(fn)
  }

  private changed(): void {
    for (const fn of this.watchers) fn()
  }

  close(): void {
    this.resumer.close()
  }
}

export {describe as describeBan}
