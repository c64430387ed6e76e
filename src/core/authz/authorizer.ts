/**
 * Authorization: what an authenticated principal may publish, subscribe to and receive.
 * Sources in order, the first that matches decides:
 *   1. the principal's own ACL (a JWT's acl claim, an HTTP authenticator's acl answer);
 *   2. the configuration's rules (EMQX format);
 *   3. the ACL file, then inline ACL text (Mosquitto syntax);
 *   4. the HTTP authorizer (asynchronous, remembered per client for a while);
 * then noMatch. Superusers bypass all of it. A topic starting with "$" is readable only when
 * a rule says so (noMatch never grants it). A principal whose credentials expired (a token's
 * exp) may do nothing more, even while offline messages wait for it.
 *
 * Decisions are remembered per principal: a publish per (topic, QoS, retain), a delivery per
 * topic, so the hot path pays one WeakMap and one Map lookup. reload() re-reads the ACL file
 * and bumps `epoch`, which empties every remembered decision: existing subscriptions stop
 * receiving what the new rules no longer allow.
 */
import type {Principal, ReadGate} from '../broker/auth.js'
import {ConfigError} from '../errors.js'
import type {Logger} from '../logger.js'
import type {QoS} from '../protocol/codec.js'
import {parseSharedFilter} from '../protocol/topic.js'
import type {AclFileRules} from './acl-file.js'
import {checkAclFile, parseAclFile} from './acl-file.js'
import type {AuthorizationConfig} from './config.js'
import type {ListRule} from './emqx-acl.js'
import {checkAclList, compileAclList} from './emqx-acl.js'
import {HttpAuthorizer} from './http-authorizer.js'
import type {Action, Permission} from './rule.js'

/** Remembered decisions stop growing here (then start over). */
const CACHE_LIMIT = 4096

interface Remembered {
  epoch: number
  /** Per topic: bit (qos * 2 + retain) set when decided, bit + 8 when allowed. */
  readonly publish: Map<string, number>
  readonly read: Map<string, boolean>
  /** The principal's own ACL: undefined when it has none, null when it could not be read (deny all). */
  own: readonly ListRule[] | null | undefined
}

export interface AuthorizationCounts {
  publishDenied: number
  subscribeDenied: number
  deliveryDenied: number
}

export class Authorizer implements ReadGate {
  /** Bumped by reload(): every remembered decision is forgotten. */
  epoch = 0
  readonly counts: AuthorizationCounts = {publishDenied: 0, subscribeDenied: 0, deliveryDenied: 0}
  private file: AclFileRules | undefined
  private inline: AclFileRules | undefined
  private readonly http: HttpAuthorizer | undefined
  private readonly remembered = new WeakMap<Principal, Remembered>()

  constructor(
    readonly config: AuthorizationConfig,
    private readonly log: Logger,
    private readonly readText: (path: string) => Promise<string>,
  ) {
    this.http = config.http === undefined ? undefined : new HttpAuthorizer(config.http, log)
    if (config.acl !== undefined) this.inline = parseAclFile(config.acl, 'authorization.acl')
  }

  /** Reads the ACL file; throws (ConfigError, file errors) and keeps the rules it had. */
  async reload(): Promise<void> {
    const path = this.config.aclFile
    if (path !== undefined) {
      let text: string
      try {
        text = await this.readText(path)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT') throw new ConfigError(`ACL file ${path} does not exist: write one (Mosquitto acl_file syntax, e.g. "pattern readwrite users/%u/#") or leave out --acl-file`)
        throw new ConfigError(`cannot read ACL file ${path}: ${(error as Error).message}`)
      }
      this.file = parseAclFile(text, path)
    }
    this.http?.clear()
    this.epoch++
  }

  /** Whether the principal may publish to `topic` (PUBLISH and Will); a promise only when the HTTP authorizer must be asked. */
  canPublish(p: Principal, topic: string, qos: QoS, retain: boolean): boolean | Promise<boolean> {
    if (p.superuser) return true
    const r = this.rememberedFor(p)
    if (r === undefined) return this.denied('publish', p, topic)
    const bit = qos * 2 + (retain ? 1 : 0)
    const known = r.publish.get(topic)
    if (known !== undefined && (known & (1 << bit)) !== 0) return (known & (1 << (bit + 8))) !== 0 || this.denied('publish', p, topic)
    const d = this.decide(p, r, 'publish', topic, qos, retain)
    if (typeof d === 'object') return d.then((ok) => ok || this.denied('publish', p, topic))
    if (r.publish.size >= CACHE_LIMIT) r.publish.clear()
    r.publish.set(topic, (known ?? 0) | (1 << bit) | (d ? 1 << (bit + 8) : 0))
    return d || this.denied('publish', p, topic)
  }

  /** The QoS granted for a subscription (a shared one is checked on its filter), or false. */
  canSubscribe(p: Principal, filter: string, qos: QoS): QoS | false | Promise<QoS | false> {
    if (p.superuser) return qos
    const r = this.rememberedFor(p)
    if (r === undefined) return this.deniedSubscribe(p, filter)
    const shared = parseSharedFilter(filter)
    const inner = typeof shared === 'object' ? shared.filter : filter
    const d = this.decide(p, r, 'subscribe', inner, qos, false)
    if (typeof d === 'object') return d.then((ok) => (ok ? qos : this.deniedSubscribe(p, filter)))
    return d ? qos : this.deniedSubscribe(p, filter)
  }

  /** ReadGate: whether a message on `topic` may be delivered to the principal now (every delivery asks). */
  mayRead(p: Principal, topic: string): boolean {
    if (p.superuser) return true
    const r = this.rememberedFor(p)
    if (r === undefined) return this.deniedRead()
    let ok = r.read.get(topic)
    if (ok === undefined) {
      const d = this.decideSync(p, r, 'read', topic, 0, false)
      // The HTTP authorizer is asked at SUBSCRIBE: where no rule speaks, its grant stands.
      ok = d === undefined ? (this.http !== undefined ? true : this.noMatch(topic, 'read')) : d === 'allow'
      if (r.read.size >= CACHE_LIMIT) r.read.clear()
      r.read.set(topic, ok)
    }
    return ok || this.deniedRead()
  }

  describe(): Record<string, unknown> {
    return {
      noMatch: this.config.noMatch,
      denyAction: this.config.denyAction,
      rules: this.config.rules.length,
      ...(this.config.aclFile === undefined ? {} : {aclFile: this.config.aclFile, aclFileRules: this.file?.ruleCount ?? 0}),
      ...(this.inline === undefined ? {} : {inlineRules: this.inline.ruleCount}),
      ...(this.http === undefined ? {} : {http: this.http.describe()}),
      epoch: this.epoch,
      ...this.counts,
    }
  }

  /** The principal's remembered decisions, current for this epoch; undefined when its credentials expired. */
  private rememberedFor(p: Principal): Remembered | undefined {
    if (p.expiresAt !== undefined && Date.now() >= p.expiresAt) return undefined
    let r = this.remembered.get(p)
    if (r === undefined) {
      r = {epoch: this.epoch, publish: new Map(), read: new Map(), own: this.ownAcl(p)}
      this.remembered.set(p, r)
    } else if (r.epoch !== this.epoch) {
      r.epoch = this.epoch
      r.publish.clear()
      r.read.clear()
    }
    return r
  }

  private ownAcl(p: Principal): readonly ListRule[] | null | undefined {
    const acl = p.attributes?.acl
    if (acl === undefined) return undefined
    try {
      return compileAclList(acl, 'acl')
    } catch (error) {
      // Fail closed: an ACL that cannot be read grants nothing and refuses everything.
      this.log.warn('the ACL granted at authentication cannot be read: everything is refused to this client', {clientId: p.clientId, error: (error as Error).message})
      return null
    }
  }

  private decide(p: Principal, r: Remembered, action: Action, topic: string, qos: QoS, retain: boolean): boolean | Promise<boolean> {
    const d = this.decideSync(p, r, action, topic, qos, retain)
    if (d !== undefined) return d === 'allow'
    if (this.http === undefined) return this.noMatch(topic, action)
    const h = this.http.check(p, action, topic, qos, retain)
    if (typeof h === 'object') return h.then((a) => (a === undefined ? this.noMatch(topic, action) : a === 'allow'))
    return h === undefined ? this.noMatch(topic, action) : h === 'allow'
  }

  private decideSync(p: Principal, r: Remembered, action: Action, topic: string, qos: number, retain: boolean): Permission | undefined {
    if (r.own === null) return 'deny'
    const parts = topic.split('/')
    let d: Permission | undefined
    if (r.own !== undefined) d = checkAclList(r.own, p, action, topic, parts, qos, retain)
    if (d === undefined && this.config.rules.length > 0) d = checkAclList(this.config.rules, p, action, topic, parts, qos, retain)
    if (d === undefined && this.file !== undefined) d = checkAclFile(this.file, p, action, topic, parts, qos, retain)
    if (d === undefined && this.inline !== undefined) d = checkAclFile(this.inline, p, action, topic, parts, qos, retain)
    return d
  }

  /** No source matched: noMatch, except that "$" topics are reached only where a rule allows it. */
  private noMatch(topic: string, _action: Action): boolean {
    if (topic.charCodeAt(0) === 0x24) return false
    return this.config.noMatch === 'allow'
  }

  private denied(action: 'publish', p: Principal, topic: string): false {
    this.counts.publishDenied++
    if (this.log.debugEnabled) this.log.debug('publish not authorized', {clientId: p.clientId, username: p.username, topic})
    return false
  }

  private deniedSubscribe(p: Principal, filter: string): false {
    this.counts.subscribeDenied++
    if (this.log.debugEnabled) this.log.debug('subscribe not authorized', {clientId: p.clientId, username: p.username, filter})
    return false
  }

  private deniedRead(): false {
    this.counts.deliveryDenied++
    return false
  }
}
