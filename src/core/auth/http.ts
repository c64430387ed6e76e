/**
 * The HTTP authenticator, on EMQX's contract: POST a JSON body made from a template
 * (${clientid} ${username} ${password} ${peerhost} ${cert_common_name} in its values) and
 *   200 {"result": "allow"|"deny"|"ignore", "is_superuser", "acl", "expire_at"} decides,
 *   204 allows,
 *   any other status, a timeout or an unreadable answer refuses (0x87): it fails closed,
 *   where EMQX would ignore.
 * Connections are kept alive (fetch's pool); an allow is remembered for `cacheTtlMs` for the
 * same request (by its SHA-256), at most `cacheSize` of them.
 */
import {createHash} from 'node:crypto'
import type {ConnectInfo} from '../broker/auth.js'
import {answerObject, postJson} from '../http-answer.js'
import type {HttpAnswer} from '../http-answer.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import type {HttpAuthConfig} from './config.js'
import type {Authenticator, Decision, Grant} from './types.js'

/** The host part of "127.0.0.1:50412" or "[::1]:50412". */
export function peerHost(remote: string): string {
  const m = /^\[(.*)\](?::\d+)?$/.exec(remote)
  if (m) return m[1]
  const colon = remote.lastIndexOf(':')
  return colon > 0 && remote.indexOf(':') === colon ? remote.slice(0, colon) : remote
}

export function renderTemplate(body: Readonly<Record<string, string>>, info: ConnectInfo): Record<string, string> {
  const values: Record<string, string> = {
    clientid: info.clientId,
    username: info.username ?? '',
    password: info.password?.toString('utf8') ?? '',
    peerhost: peerHost(info.remote),
    cert_common_name: typeof info.peerCertificate?.subject?.CN === 'string' ? info.peerCertificate.subject.CN : '',
  }
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(body)) out[k] = v.replace(/\$\{([a-z_]+)\}/g, (all, name: string) => values[name] ?? all)
  return out
}

export class HttpAuthenticator implements Authenticator {
  readonly type = 'http'
  readonly id: string
  private readonly cache = new Map<string, {until: number; grant: Grant}>()
  private readonly stats = {requests: 0, cacheHits: 0, failures: 0}

  constructor(private readonly config: HttpAuthConfig) {
    this.id = config.id
  }

  async authenticate(info: ConnectInfo): Promise<Decision> {
    const c = this.config
    const body = JSON.stringify(renderTemplate(c.body, info))
    const key = c.cacheTtlMs > 0 ? createHash('sha256').update(body).digest('base64') : ''
    if (key !== '') {
      const hit = this.cache.get(key)
      if (hit !== undefined && hit.until > Date.now()) {
        this.stats.cacheHits++
        return {result: 'allow', grant: hit.grant}
      }
      if (hit !== undefined) this.cache.delete(key)
    }
    this.stats.requests++
    let answer: HttpAnswer
    try {
      answer = await postJson(c.url, c.headers, body, c.timeoutMs)
    } catch (error) {
      this.stats.failures++
      const timedOut = (error as Error).name === 'TimeoutError'
      return failed(timedOut ? `the authentication service did not answer within ${c.timeoutMs} ms` : `the authentication service cannot be reached: ${(error as Error).message}`)
    }
    if (answer.status === 204) return this.allow(key, {})
    if (answer.status !== 200) {
      this.stats.failures++
      return failed(`the authentication service answered HTTP ${answer.status}`)
    }
    const json = answerObject(answer.text)
    if (json === undefined) {
      this.stats.failures++
      return failed('the authentication service answered 200 without a JSON object')
    }
    switch (json.result) {
      case 'allow': {
        const grant: Grant = {}
        if (json.is_superuser === true) grant.superuser = true
        const attributes: Record<string, unknown> = {}
        if (json.acl !== undefined) attributes.acl = json.acl
        if (json.client_attrs !== undefined) attributes.clientAttrs = json.client_attrs
        if (Object.keys(attributes).length > 0) grant.attributes = attributes
        if (typeof json.expire_at === 'number') {
          grant.expiresAt = json.expire_at * 1000
          if (grant.expiresAt <= Date.now()) return {result: 'deny', reasonCode: ReasonCode.BadUserNameOrPassword, reason: 'the credentials have expired'}
        }
        return this.allow(key, grant)
      }
      case 'deny':
        return {result: 'deny', reasonCode: ReasonCode.BadUserNameOrPassword, reason: 'bad user name or password'}
      case 'ignore':
        return {result: 'ignore', presented: info.username !== undefined || info.password !== undefined}
      default:
        this.stats.failures++
        return failed(`the authentication service answered result ${JSON.stringify(json.result)}: expected allow, deny or ignore`)
    }
  }

  private allow(key: string, grant: Grant): Decision {
    const ttl = this.config.cacheTtlMs
    if (key !== '') {
      const until = Math.min(Date.now() + ttl, grant.expiresAt ?? Infinity)
      this.cache.delete(key)
      this.cache.set(key, {until, grant})
      if (this.cache.size > this.config.cacheSize) this.cache.delete(this.cache.keys().next().value as string)
    }
    return {result: 'allow', grant}
  }

  /** Forgets every remembered allow. */
  async reload(): Promise<void> {
    this.cache.clear()
  }

  describe(): Record<string, unknown> {
    const c = this.config
    return {type: this.type, id: this.id, url: c.url, timeoutMs: c.timeoutMs, cacheTtlMs: c.cacheTtlMs, cached: this.cache.size, ...this.stats}
  }
}

function failed(reason: string): Decision {
  return {result: 'deny', reasonCode: ReasonCode.NotAuthorized, reason}
}
