/**
 * The broker's Auth with authorization added: authentication is the given Auth's (the chain
 * built from `auth`), publish, subscribe and delivery checks are the Authorizer's when
 * `authorization` enables it. With nothing configured the given Auth answers alone and no
 * authorizer is loaded (a dev box pays nothing); the Authorizer is loaded at start, and until
 * then every request is refused (fail closed).
 */
import {readFile} from 'node:fs/promises'
import type {Auth, AuthResult, ConnectInfo, EnhancedAuth, Principal, ReadGate, UpgradeVerdict} from '../broker/auth.js'
import type {Logger} from '../logger.js'
import type {QoS} from '../protocol/codec.js'
import type {Authorizer} from './authorizer.js'
import type {AuthorizationConfig} from './config.js'

export class AuthorizedAuth implements Auth {
  private authorizer: Authorizer | undefined

  constructor(
    private readonly auth: Auth,
    private readonly config: AuthorizationConfig,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.auth.start?.()
    if (this.authorizer !== undefined) return
    const {Authorizer} = await import('./authorizer.js')
    const authorizer = new Authorizer(this.config, this.log, (path) => readFile(path, 'utf8'))
    await authorizer.reload()
    this.authorizer = authorizer
  }

  authenticate(info: ConnectInfo): AuthResult | Promise<AuthResult> {
    return this.auth.authenticate(info)
  }

  /** MQTT 5 enhanced authentication (SCRAM) is the given Auth's. */
  enhanced(method: string, info: ConnectInfo, reauth?: Principal): EnhancedAuth | undefined {
    return this.auth.enhanced?.(method, info, reauth)
  }

  /** WebSocket upgrade credentials are the given Auth's. */
  checkUpgrade(request: NonNullable<ConnectInfo['request']>, listenerId: string): Promise<UpgradeVerdict> | undefined {
    return this.auth.checkUpgrade?.(request, listenerId)
  }

  canPublish(p: Principal, topic: string, qos: QoS, retain: boolean): boolean | Promise<boolean> {
    if (this.authorizer === undefined) return false
    const own = this.auth.canPublish(p, topic, qos, retain)
    if (own === false) return false
    if (own === true) return this.authorizer.canPublish(p, topic, qos, retain)
    const authorizer = this.authorizer
    return own.then((ok) => ok && authorizer.canPublish(p, topic, qos, retain))
  }

  canSubscribe(p: Principal, filter: string, qos: QoS): QoS | false | Promise<QoS | false> {
    if (this.authorizer === undefined) return false
    const own = this.auth.canSubscribe(p, filter, qos)
    if (own === false) return false
    if (typeof own === 'number') return this.authorizer.canSubscribe(p, filter, own)
    const authorizer = this.authorizer
    return own.then((q) => (q === false ? false : authorizer.canSubscribe(p, filter, q)))
  }

  canPublishReserved(p: Principal, topic: string, qos: QoS, retain: boolean): boolean {
    // A rule may grant a "$" topic; the Authorizer's canPublish is asked after this anyway.
    return this.auth.canPublishReserved?.(p, topic, qos, retain) ?? (p.superuser || this.authorizer !== undefined)
  }

  readGate(): ReadGate | undefined {
    return this.authorizer
  }

  disconnectOnDeny(): boolean {
    return this.config.denyAction === 'disconnect'
  }

  /** Re-reads credentials, then the ACL file; the previous rules stay when the file cannot be read. */
  async reload(): Promise<unknown> {
    const results = ((await this.auth.reload?.()) ?? []) as Array<Record<string, unknown>>
    if (this.authorizer === undefined) return results
    try {
      await this.authorizer.reload()
      return [...results, {id: 'authorization', ok: true}]
    } catch (error) {
      this.log.error('authorization reload failed: the previous rules stay', {error: (error as Error).message})
      return [...results, {id: 'authorization', ok: false, error: (error as Error).message}]
    }
  }

  describe(): unknown {
    const d = this.auth.describe?.() ?? {}
    return {...(d as Record<string, unknown>), authorization: this.authorizer?.describe() ?? {loaded: false}}
  }

  listenerProblem(listener: {id: string; host: string}): string | undefined {
    return this.auth.listenerProblem?.(listener)
  }
}

/** The Auth to use: `auth` alone when authorization is off, `auth` with authorization otherwise. */
export function withAuthorization(auth: Auth, config: AuthorizationConfig | undefined, log: Logger): Auth {
  return config === undefined || !config.enabled ? auth : new AuthorizedAuth(auth, config, log)
}
