/**
 * The authentication chain: the broker's `Auth` built from the `auth` configuration.
 * Authenticators run in order; the first allow or deny decides; when all ignore, the
 * client is refused (0x86 when it presented credentials, 0x87 when it presented none),
 * unless it presented none and `allowAnonymous` is set. An authenticator that throws
 * refuses (0x87). With no authenticator at all, every client is let in: the broker then
 * refuses to start a listener that is not bound to loopback, unless `allowAnonymous` says
 * so explicitly (listenerProblem).
 *
 * Authorization (canPublish, canSubscribe) is not decided here yet: everything is allowed.
 */
import type {Auth, AuthResult, ConnectInfo, EnhancedAuth, Principal, UpgradeVerdict} from '../broker/auth.js'
import type {QoS} from '../protocol/codec.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import type {Logger} from '../logger.js'
import {noopLogger} from '../logger.js'
import {LogThrottle} from '../log-throttle.js'
import type {AuthConfig} from './config.js'
import {resolveAuthConfig} from './config.js'
import {ClientCertAuthenticator} from './client-cert.js'
import {HttpAuthenticator} from './http.js'
import {JwtAuthenticator} from './jwt.js'
import {PasswordFileAuthenticator} from './password-file.js'
import type {Authenticator} from './types.js'
import {anonymousListenerProblem} from './anonymous.js'
import {checkUpgradeWith, failClosed} from './enhanced.js'

export {isLoopbackHost} from './anonymous.js'

/** Whether a bind address only takes connections from this machine. */

export interface ReloadResult {
  id: string
  ok: boolean
  error?: string
}

export class AuthChain implements Auth {
  /** A backend that is down fails every CONNECT: a few lines and a summary per 10 s. */
  private readonly failures: LogThrottle

  constructor(
    readonly config: AuthConfig,
    readonly authenticators: readonly Authenticator[],
    private readonly log: Logger = noopLogger,
  ) {
    this.failures = new LogThrottle(log, {what: 'authenticator failures'})
  }

  /** Loads what the authenticators read at start (the password files); throws when one cannot. */
  async start(): Promise<void> {
    for (const a of this.authenticators) await a.reload?.()
  }

  /**
   * Why a listener on `host` must not start: no authenticator, not loopback, and anonymous
   * clients not explicitly allowed. Undefined when it may.
   */
  listenerProblem(listener: {id: string; host: string}): string | undefined {
    return this.authenticators.length > 0 ? undefined : anonymousListenerProblem(listener, this.config.allowAnonymous)
  }

  async authenticate(info: ConnectInfo): Promise<AuthResult> {
    if (this.authenticators.length === 0) return {ok: true}
    let presented = info.username !== undefined || info.password !== undefined
    for (const a of this.authenticators) {
      let d
      try {
        d = await a.authenticate(info)
      } catch (error) {
        this.failures.note('warn', a.id, 'authenticator failed', {authenticator: a.id, clientId: info.clientId, error: (error as Error).message})
        return {ok: false, reasonCode: ReasonCode.NotAuthorized, reason: `authentication failed (${a.id}): try again later`}
      }
      if (d.result === 'allow') {
        const g = d.grant
        return {ok: true, principal: {...g, attributes: {...g?.attributes, authenticator: a.id}}}
      }
      if (d.result === 'deny') return {ok: false, reasonCode: d.reasonCode, reason: d.reason}
      if (d.presented) presented = true
    }
    if (!presented && this.config.allowAnonymous) return {ok: true, principal: {attributes: {anonymous: true}}}
    return presented
      ? {ok: false, reasonCode: ReasonCode.BadUserNameOrPassword, reason: 'bad user name or password'}
      : {ok: false, reasonCode: ReasonCode.NotAuthorized, reason: 'this broker needs credentials: anonymous clients are not allowed'}
  }

  /** The first authenticator that offers `method` runs the whole exchange (there is no "ignore" half-way through). */
  enhanced(method: string, info: ConnectInfo, reauth?: Principal): EnhancedAuth | undefined {
    for (const a of this.authenticators) {
      const exchange = a.enhanced?.(method, info, reauth)
      if (exchange !== undefined) return failClosed(exchange, a.id, this.log)
    }
    return undefined
  }

  /** WebSocket upgrade credentials (JWT bearer header, query parameter): undefined when the request carries none. */
  checkUpgrade(request: NonNullable<ConnectInfo['request']>, listenerId: string): Promise<UpgradeVerdict> | undefined {
    return checkUpgradeWith(this.authenticators, request, listenerId, this.log)
  }

  canPublish(_principal: Principal, _topic: string, _qos: QoS, _retain: boolean): boolean {
    return true
  }

  canSubscribe(_principal: Principal, _filter: string, qos: QoS): QoS {
    return qos
  }

  /** Reloads every authenticator that can (password files; the HTTP cache is cleared). One failing keeps its old state. */
  async reload(): Promise<ReloadResult[]> {
    const results: ReloadResult[] = []
    for (const a of this.authenticators) {
      if (a.reload === undefined) continue
      try {
        await a.reload()
        results.push({id: a.id, ok: true})
      } catch (error) {
        this.log.error('authenticator reload failed: the previous state stays', {authenticator: a.id, error: (error as Error).message})
        results.push({id: a.id, ok: false, error: (error as Error).message})
      }
    }
    return results
  }

  describe(): {allowAnonymous: boolean; authenticators: Array<Record<string, unknown>>} {
    return {allowAnonymous: this.config.allowAnonymous, authenticators: this.authenticators.map((a) => a.describe())}
  }

  close(): void {
    for (const a of this.authenticators) a.close?.()
  }
}

/** Builds the chain from a resolved (or raw) `auth` configuration. */
export function createAuthChain(config: AuthConfig | undefined, log: Logger = noopLogger): AuthChain {
  const c = config ?? resolveAuthConfig(undefined)
  const authenticators = c.authenticators.map((a): Authenticator => {
    switch (a.type) {
      case 'password-file':
        return new PasswordFileAuthenticator(a, log)
      case 'jwt':
        return new JwtAuthenticator(a)
      case 'http':
        return new HttpAuthenticator(a)
      case 'client-cert':
        return new ClientCertAuthenticator(a)
    }
  })
  return new AuthChain(c, authenticators, log)
}
