/**
 * The Auth a Broker builds from `config.auth` when it is given none. Without authenticators it
 * lets everyone in (on loopback listeners, or anywhere with allowAnonymous) and loads nothing
 * more; with authenticators, the chain (chain.ts: password files, JWT through jose, HTTP,
 * client certificates) is loaded at start (Broker.start). Loading the authenticators on every
 * broker measurably raised its garbage-collection work under QoS 1 load (the session notes of
 * 2026-12-07): a broker that authenticates nobody does not pay for them.
 */
import {AUTH_ALLOWED} from '../broker/auth.js'
import type {Auth, AuthResult, ConnectInfo, EnhancedAuth, Principal, UpgradeVerdict} from '../broker/auth.js'
import type {Logger} from '../logger.js'
import type {QoS} from '../protocol/codec.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import {anonymousListenerProblem} from './anonymous.js'
import type {AuthConfig} from './config.js'

const NOT_READY: AuthResult = Object.freeze({ok: false, reasonCode: ReasonCode.ServerUnavailable, reason: 'authentication is not ready yet'} as const)

export class ConfiguredAuth implements Auth {
  private chain: Auth | undefined
  private readonly config: AuthConfig | undefined
  private readonly log: Logger

  constructor(config: AuthConfig | undefined, log: Logger) {
    this.config = config
    this.log = log
  }

  private get authenticating(): boolean {
    return (this.config?.authenticators.length ?? 0) > 0
  }

  async start(): Promise<void> {
    if (!this.authenticating || this.chain !== undefined) return
    const {createAuthChain} = await import('./chain.js')
    const chain = createAuthChain(this.config, this.log)
    await chain.start()
    this.chain = chain
  }

  authenticate(info: ConnectInfo): AuthResult | Promise<AuthResult> {
    if (this.chain !== undefined) return this.chain.authenticate(info)
    if (!this.authenticating) return AUTH_ALLOWED
    // Authenticators are configured but not loaded (start() was not awaited): refuse, never let in.
    return NOT_READY
  }

  enhanced(method: string, info: ConnectInfo, reauth?: Principal): EnhancedAuth | undefined {
    return this.chain?.enhanced?.(method, info, reauth)
  }

  checkUpgrade(request: NonNullable<ConnectInfo['request']>, listenerId: string): Promise<UpgradeVerdict> | undefined {
    return this.chain?.checkUpgrade?.(request, listenerId)
  }

  canPublish(principal: Principal, topic: string, qos: QoS, retain: boolean): boolean | Promise<boolean> {
    return this.chain === undefined ? true : this.chain.canPublish(principal, topic, qos, retain)
  }

  canSubscribe(principal: Principal, filter: string, qos: QoS): QoS | false | Promise<QoS | false> {
    return this.chain === undefined ? qos : this.chain.canSubscribe(principal, filter, qos)
  }

  reload(): Promise<unknown> {
    return this.chain?.reload?.() ?? Promise.resolve([])
  }

  describe(): unknown {
    return this.chain?.describe?.() ?? {allowAnonymous: this.config?.allowAnonymous ?? false, authenticators: []}
  }

  listenerProblem(listener: {id: string; host: string}): string | undefined {
    if (this.authenticating) return this.chain?.listenerProblem?.(listener)
    return anonymousListenerProblem(listener, this.config?.allowAnonymous ?? false)
  }
}
