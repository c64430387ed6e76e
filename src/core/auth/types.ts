/**
 * One link of the authentication chain (chain.ts). An authenticator looks at the CONNECT
 * and answers allow, deny or ignore ("these are not credentials I know"): the first allow
 * or deny decides; when every authenticator ignores, the client is refused. A backend that
 * fails (a JWKS that cannot be fetched, an HTTP service that times out, a file that cannot
 * be read) answers deny: security fails closed.
 */
import type {ConnectInfo, EnhancedAuth, Principal} from '../broker/auth.js'

export interface Grant {
  /** The user name the principal gets (default: the one the client sent). */
  username?: string
  superuser?: boolean
  /** Token claims, an ACL (EMQX format) and the like, for authorization. */
  attributes?: Record<string, unknown>
  /** When the credentials stop being valid (ms since the epoch): the client is disconnected then. */
  expiresAt?: number
}

export type Decision =
  | {result: 'allow'; grant?: Grant}
  | {result: 'deny'; reasonCode: number; reason: string}
  /** `presented`: the client did present credentials of this kind (so it is not anonymous). */
  | {result: 'ignore'; presented?: boolean}

export interface Authenticator {
  /** "password-file", "jwt", "http". */
  readonly type: string
  /** Unique in the chain: the type, or the id given in the configuration. */
  readonly id: string
  authenticate(info: ConnectInfo): Promise<Decision>
  /** MQTT 5 enhanced authentication: an exchange for `method`, or undefined when this authenticator does not offer it. */
  enhanced?(method: string, info: ConnectInfo, reauth?: Principal): EnhancedAuth | undefined
  /**
   * WebSocket: the credentials of the upgrade request alone (before any CONNECT). Undefined when
   * the request carries none of this authenticator's; `presented: true` in an ignore means it
   * carried some that this authenticator could not accept.
   */
  checkUpgrade?(request: NonNullable<ConnectInfo['request']>): Promise<Decision> | undefined
  /** Re-reads what it was configured from (the password file). Rejects when that fails; the old state is kept. */
  reload?(): Promise<void>
  /** What the admin API shows (never a secret). */
  describe(): Record<string, unknown>
  close?(): void
}

export const IGNORE: Decision = Object.freeze({result: 'ignore'})
