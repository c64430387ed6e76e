/**
 * The `authorization` section of the broker configuration: where rules come from, and what
 * happens when none matches. Validated here (resolveConfig calls resolveAuthorizationConfig)
 * so every entry point gets the same errors; the ACL file is named by path and read at start
 * and on reload.
 */
import {ConfigError} from '../errors.js'
import {fail, httpUrl, isObj, knownKeys, ms, oneOf, str, stringMap} from '../settings.js'
import {parseAclFile} from './acl-file.js'
import {compileAclList} from './emqx-acl.js'
import type {ListRule} from './emqx-acl.js'

export type NoMatch = 'allow' | 'deny'
export type DenyAction = 'ignore' | 'disconnect'

export interface HttpAuthorizerConfig {
  /** POST here (EMQX's HTTP authorization contract). */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** The JSON body; ${action} ${topic} ${qos} ${retain} ${clientid} ${username} ${peerhost} in values are replaced. */
  readonly body: Readonly<Record<string, string>>
  readonly timeoutMs: number
  /** How long an answer is remembered per client and request; 0: not at all. */
  readonly cacheTtlMs: number
}

export interface AuthorizationConfig {
  /** Whether any rule source (or an authenticator, whose principals may carry an ACL) is configured: otherwise nothing is checked. */
  readonly enabled: boolean
  /** What is decided when no source matches (default: deny when anything is configured). */
  readonly noMatch: NoMatch
  /** Whether noMatch was given, rather than defaulted (serve explains a defaulted deny). */
  readonly noMatchExplicit: boolean
  /** A client that publishes where it may not: the message is refused (ignore), or the client disconnected too. */
  readonly denyAction: DenyAction
  /** Rules in EMQX's format (first match decides), after the principal's own. */
  readonly rules: readonly ListRule[]
  /** A Mosquitto acl_file, read at start and on reload. */
  readonly aclFile?: string
  /** Mosquitto acl_file text given inline. */
  readonly acl?: string
  readonly http?: HttpAuthorizerConfig
}

export interface AuthorizationConfigInput {
  noMatch?: NoMatch
  denyAction?: DenyAction
  rules?: unknown[]
  aclFile?: string
  acl?: string
  http?: Record<string, unknown>
}

export const AUTHZ_DEFAULTS = Object.freeze({
  httpTimeoutMs: 5_000,
  httpCacheTtlMs: 60_000,
  httpBody: Object.freeze({
    action: '${action}',
    topic: '${topic}',
    qos: '${qos}',
    retain: '${retain}',
    clientid: '${clientid}',
    username: '${username}',
    peerhost: '${peerhost}',
  }),
})

const KEYS = ['noMatch', 'denyAction', 'rules', 'aclFile', 'acl', 'http']
const HTTP_KEYS = ['url', 'headers', 'body', 'timeoutMs', 'cacheTtlMs']

/**
 * Validates the `authorization` section; `authenticating` says whether authenticators are
 * configured (then, as with any rule source, noMatch defaults to deny). Throws ConfigError.
 */
export function resolveAuthorizationConfig(input: unknown, authenticating: boolean): AuthorizationConfig {
  const a = input ?? {}
  if (!isObj(a)) throw new ConfigError('setting "authorization" must be an object (noMatch, denyAction, aclFile, acl, rules, http)')
  knownKeys('authorization', a, KEYS)
  let rules: ListRule[] = []
  if (a.rules !== undefined) {
    if (!Array.isArray(a.rules)) fail('authorization.rules', a.rules, 'it must be a list of {permission, action, topic}')
    try {
      rules = compileAclList(a.rules, 'authorization.rules', true)
    } catch (error) {
      throw new ConfigError(`setting ${(error as Error).message}`)
    }
  }
  const aclFile = a.aclFile === undefined ? undefined : str('authorization.aclFile', a.aclFile)
  const acl = a.acl === undefined ? undefined : typeof a.acl === 'string' ? a.acl : fail('authorization.acl', a.acl, 'it must be text in Mosquitto acl_file syntax')
  if (acl !== undefined) parseAclFile(acl, 'authorization.acl')
  let http: HttpAuthorizerConfig | undefined
  if (a.http !== undefined) {
    if (!isObj(a.http)) fail('authorization.http', a.http, 'it must be an object with a url')
    knownKeys('authorization.http', a.http, HTTP_KEYS)
    http = Object.freeze({
      url: httpUrl('authorization.http.url', a.http.url),
      headers: stringMap('authorization.http.headers', a.http.headers) ?? Object.freeze({}),
      body: stringMap('authorization.http.body', a.http.body) ?? AUTHZ_DEFAULTS.httpBody,
      timeoutMs: ms('authorization.http.timeoutMs', a.http.timeoutMs, AUTHZ_DEFAULTS.httpTimeoutMs, 1),
      cacheTtlMs: ms('authorization.http.cacheTtlMs', a.http.cacheTtlMs, AUTHZ_DEFAULTS.httpCacheTtlMs, 0),
    })
  }
  const sources = rules.length > 0 || aclFile !== undefined || acl !== undefined || http !== undefined
  const enabled = sources || authenticating || a.noMatch === 'deny'
  return Object.freeze({
    enabled,
    noMatch: oneOf('authorization.noMatch', a.noMatch, ['allow', 'deny'] as const, enabled ? 'deny' : 'allow'),
    noMatchExplicit: a.noMatch !== undefined,
    denyAction: oneOf('authorization.denyAction', a.denyAction, ['ignore', 'disconnect'] as const, 'ignore'),
    rules: Object.freeze(rules),
    ...(aclFile === undefined ? {} : {aclFile}),
    ...(acl === undefined ? {} : {acl}),
    ...(http === undefined ? {} : {http}),
  })
}

/** What a user should know about the authorization in effect (serve logs it), or undefined. */
export function authorizationNotice(config: AuthorizationConfig | undefined): string | undefined {
  if (config === undefined || !config.enabled || config.noMatchExplicit || config.noMatch !== 'deny') return undefined
  if (config.rules.length > 0 || config.aclFile !== undefined || config.acl !== undefined || config.http !== undefined) return undefined
  return 'no ACL is configured, so clients may publish and subscribe only where their credentials grant it (a token\'s acl claim) or as superusers; give the rules with --acl-file FILE, or let every authenticated client do everything with --acl-no-match allow'
}
