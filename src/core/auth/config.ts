/**
 * The `auth` section of the broker configuration: an ordered list of authenticators and
 * whether clients without credentials may connect. Validated here (resolveConfig calls
 * resolveAuthConfig), so every entry point gets the same errors. Files are named by path
 * (the password file, re-read on reload); key material arrives as text.
 */
import {ConfigError} from '../errors.js'
import {bool, fail, httpUrl, isObj, ms, str, stringMap, strings} from '../settings.js'
import type {Obj} from '../settings.js'

export interface PasswordFileConfig {
  readonly type: 'password-file'
  readonly id: string
  /** A Mosquitto-compatible password file (user:$7$…). */
  readonly file: string
}

export type JwtFrom = 'password' | 'username'

export interface JwtConfig {
  readonly type: 'jwt'
  readonly id: string
  /** Which CONNECT field carries the token (default password). */
  readonly from: JwtFrom
  /** HS256/384/512: the shared secret. */
  readonly secret?: string
  /** The secret is base64 text (decoded before use). */
  readonly secretBase64: boolean
  /** RS/PS/ES/EdDSA: the public key (PEM text, or a JWK as JSON text). */
  readonly publicKey?: string
  /** Keys by `kid` from this URL (http or https). */
  readonly jwksUrl?: string
  /** Algorithms accepted; default: those of the key (never "none"). */
  readonly algorithms?: readonly string[]
  readonly issuer?: readonly string[]
  readonly audience?: readonly string[]
  /** Clock skew allowed on exp and nbf. */
  readonly clockToleranceMs: number
  /** A token without exp is refused unless this is false. */
  readonly requireExp: boolean
  /** Claims that must equal a value; ${clientid} and ${username} stand for the client's. */
  readonly verifyClaims: Readonly<Record<string, string>>
  /** The claim holding an ACL (EMQX format), copied into the principal's attributes. */
  readonly aclClaim: string
  /** A claim that, when true, makes the client a superuser (none by default). */
  readonly superuserClaim?: string
  /** WebSocket: take a token from `Authorization: Bearer …` of the upgrade request when the CONNECT has none. */
  readonly bearerHeader: boolean
  /** WebSocket: take a token from this query parameter of the upgrade URL when the CONNECT has none. */
  readonly queryParam?: string
  /** Disconnect the client when its token expires (MQTT 5: DISCONNECT 0xA0). */
  readonly disconnectOnExpiry: boolean
  /** JWKS: fetched again after this long. */
  readonly jwksRefreshMs: number
  /** JWKS: an unknown kid fetches the set again at most once per this long. */
  readonly jwksCooldownMs: number
  /** JWKS: how long a fetch may take. */
  readonly jwksTimeoutMs: number
}

export interface HttpAuthConfig {
  readonly type: 'http'
  readonly id: string
  /** The service: POST here (EMQX's HTTP authentication contract). */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** The JSON body; ${clientid} ${username} ${password} ${peerhost} ${cert_common_name} in values are replaced. */
  readonly body: Readonly<Record<string, string>>
  readonly timeoutMs: number
  /** How long an allow is remembered for the same credentials; 0: not at all. */
  readonly cacheTtlMs: number
  /** How many allows are remembered. */
  readonly cacheSize: number
}

export interface ClientCertConfig {
  readonly type: 'client-cert'
  readonly id: string
  /** The verified certificate's CN becomes the user name (default true). */
  readonly cnAsUsername: boolean
}

export type AuthenticatorConfig = PasswordFileConfig | JwtConfig | HttpAuthConfig | ClientCertConfig

export interface AuthConfig {
  readonly authenticators: readonly AuthenticatorConfig[]
  /** Let clients that present no credentials in (needed with no authenticator on a listener that is not loopback). */
  readonly allowAnonymous: boolean
}

export interface AuthConfigInput {
  authenticators?: Array<Record<string, unknown>>
  allowAnonymous?: boolean
}

export const AUTH_DEFAULTS = Object.freeze({
  clockToleranceMs: 5_000,
  jwksRefreshMs: 300_000,
  jwksCooldownMs: 30_000,
  jwksTimeoutMs: 5_000,
  httpTimeoutMs: 5_000,
  httpCacheTtlMs: 10_000,
  httpCacheSize: 1_000,
  httpBody: Object.freeze({
    clientid: '${clientid}',
    username: '${username}',
    password: '${password}',
    peerhost: '${peerhost}',
    cert_common_name: '${cert_common_name}',
  }),
})

export const AUTHENTICATOR_TYPES = Object.freeze(['password-file', 'jwt', 'http', 'client-cert'] as const)

const COMMON = ['type', 'id']
const KEYS: Record<AuthenticatorConfig['type'], readonly string[]> = {
  'password-file': [...COMMON, 'file'],
  jwt: [
    ...COMMON,
    'from',
    'secret',
    'secretBase64',
    'publicKey',
    'jwksUrl',
    'algorithms',
    'issuer',
    'audience',
    'clockToleranceMs',
    'requireExp',
    'verifyClaims',
    'aclClaim',
    'superuserClaim',
    'bearerHeader',
    'queryParam',
    'disconnectOnExpiry',
    'jwksRefreshMs',
    'jwksCooldownMs',
    'jwksTimeoutMs',
  ],
  http: [...COMMON, 'url', 'headers', 'body', 'timeoutMs', 'cacheTtlMs', 'cacheSize'],
  'client-cert': [...COMMON, 'cnAsUsername'],
}

/** Algorithms that take a shared secret, and those that take a public key. */
export const HMAC_ALGORITHMS = Object.freeze(['HS256', 'HS384', 'HS512'])
export const PUBLIC_KEY_ALGORITHMS = Object.freeze(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])

function resolveJwt(where: string, a: Obj, id: string): JwtConfig {
  const from = a.from ?? 'password'
  if (from !== 'password' && from !== 'username') fail(`${where}.from`, from, 'use "password" or "username"')
  const secret = a.secret === undefined ? undefined : str(`${where}.secret`, a.secret)
  const publicKey = a.publicKey === undefined ? undefined : str(`${where}.publicKey`, a.publicKey)
  const jwksUrl = a.jwksUrl === undefined ? undefined : httpUrl(`${where}.jwksUrl`, a.jwksUrl)
  const keys = [secret, publicKey, jwksUrl].filter((k) => k !== undefined).length
  if (keys !== 1) {
    throw new ConfigError(`setting "${where}" needs exactly one of secret (HS256/384/512), publicKey (PEM) or jwksUrl; it has ${keys}`)
  }
  const algorithms = strings(`${where}.algorithms`, a.algorithms)
  if (algorithms) {
    const allowed = secret !== undefined ? HMAC_ALGORITHMS : PUBLIC_KEY_ALGORITHMS
    for (const alg of algorithms) {
      if (!allowed.includes(alg)) {
        fail(`${where}.algorithms`, a.algorithms, `"${alg}" does not go with ${secret !== undefined ? 'a secret' : 'a public key'}: use ${allowed.join(', ')}`)
      }
    }
  }
  const secretBase64 = bool(`${where}.secretBase64`, a.secretBase64, false)
  if (secret !== undefined) {
    const bytes = secretBase64 ? Buffer.from(secret, 'base64').length : Buffer.byteLength(secret)
    if (bytes < 32) {
      throw new ConfigError(`setting "${where}.secret" is ${bytes} bytes long: an HMAC secret needs at least 32 bytes (e.g. openssl rand -base64 32, with secretBase64: true)`)
    }
  }
  if (publicKey !== undefined && !publicKey.includes('-----BEGIN') && !publicKey.trim().startsWith('{')) {
    throw new ConfigError(`setting "${where}.publicKey" is neither a PEM public key nor a JWK (JSON)`)
  }
  const verifyClaims = stringMap(`${where}.verifyClaims`, a.verifyClaims) ?? {}
  for (const name of Object.keys(verifyClaims)) {
    if (['exp', 'nbf', 'iat'].includes(name)) fail(`${where}.verifyClaims`, a.verifyClaims, `"${name}" is checked by itself; leave it out`)
  }
  return Object.freeze({
    type: 'jwt',
    id,
    from,
    ...(secret === undefined ? {} : {secret}),
    secretBase64,
    ...(publicKey === undefined ? {} : {publicKey}),
    ...(jwksUrl === undefined ? {} : {jwksUrl}),
    ...(algorithms === undefined ? {} : {algorithms}),
    ...(a.issuer === undefined ? {} : {issuer: strings(`${where}.issuer`, a.issuer)}),
    ...(a.audience === undefined ? {} : {audience: strings(`${where}.audience`, a.audience)}),
    clockToleranceMs: ms(`${where}.clockToleranceMs`, a.clockToleranceMs, AUTH_DEFAULTS.clockToleranceMs, 0),
    requireExp: bool(`${where}.requireExp`, a.requireExp, true),
    verifyClaims,
    aclClaim: a.aclClaim === undefined ? 'acl' : str(`${where}.aclClaim`, a.aclClaim),
    ...(a.superuserClaim === undefined ? {} : {superuserClaim: str(`${where}.superuserClaim`, a.superuserClaim)}),
    bearerHeader: bool(`${where}.bearerHeader`, a.bearerHeader, true),
    ...(a.queryParam === undefined ? {} : {queryParam: str(`${where}.queryParam`, a.queryParam)}),
    disconnectOnExpiry: bool(`${where}.disconnectOnExpiry`, a.disconnectOnExpiry, true),
    jwksRefreshMs: ms(`${where}.jwksRefreshMs`, a.jwksRefreshMs, AUTH_DEFAULTS.jwksRefreshMs, 1000),
    jwksCooldownMs: ms(`${where}.jwksCooldownMs`, a.jwksCooldownMs, AUTH_DEFAULTS.jwksCooldownMs, 0),
    jwksTimeoutMs: ms(`${where}.jwksTimeoutMs`, a.jwksTimeoutMs, AUTH_DEFAULTS.jwksTimeoutMs, 1),
  } as JwtConfig)
}

function resolveAuthenticator(where: string, a: unknown, ids: Set<string>): AuthenticatorConfig {
  if (!isObj(a)) throw new ConfigError(`setting "${where}" must be an object with a type: ${AUTHENTICATOR_TYPES.join(', ')}`)
  const type = a.type
  if (typeof type !== 'string' || !(AUTHENTICATOR_TYPES as readonly string[]).includes(type)) {
    fail(`${where}.type`, type, `use ${AUTHENTICATOR_TYPES.join(', ')}`)
  }
  const t = type as AuthenticatorConfig['type']
  for (const key of Object.keys(a)) {
    if (!KEYS[t].includes(key)) throw new ConfigError(`unknown setting "${where}.${key}": known settings of a ${t} authenticator are ${KEYS[t].join(', ')}`)
  }
  const id = a.id === undefined ? t : str(`${where}.id`, a.id)
  if (ids.has(id)) throw new ConfigError(`two authenticators have the id "${id}": give each its own id`)
  ids.add(id)
  switch (t) {
    case 'password-file':
      return Object.freeze({type: t, id, file: str(`${where}.file`, a.file)})
    case 'jwt':
      return resolveJwt(where, a, id)
    case 'http':
      return Object.freeze({
        type: t,
        id,
        url: httpUrl(`${where}.url`, a.url),
        headers: stringMap(`${where}.headers`, a.headers) ?? Object.freeze({}),
        body: stringMap(`${where}.body`, a.body) ?? AUTH_DEFAULTS.httpBody,
        timeoutMs: ms(`${where}.timeoutMs`, a.timeoutMs, AUTH_DEFAULTS.httpTimeoutMs, 1),
        cacheTtlMs: ms(`${where}.cacheTtlMs`, a.cacheTtlMs, AUTH_DEFAULTS.httpCacheTtlMs, 0),
        cacheSize: ms(`${where}.cacheSize`, a.cacheSize, AUTH_DEFAULTS.httpCacheSize, 1),
      })
    case 'client-cert':
      return Object.freeze({type: t, id, cnAsUsername: bool(`${where}.cnAsUsername`, a.cnAsUsername, true)})
  }
}

/** Validates the `auth` section and returns it frozen; throws ConfigError naming the bad setting. */
export function resolveAuthConfig(input: unknown): AuthConfig {
  if (input === undefined) return Object.freeze({authenticators: Object.freeze([]), allowAnonymous: false})
  if (!isObj(input)) throw new ConfigError('setting "auth" must be an object with authenticators (a list) and allowAnonymous')
  for (const key of Object.keys(input)) {
    if (key !== 'authenticators' && key !== 'allowAnonymous') throw new ConfigError(`unknown setting "auth.${key}": known settings here are authenticators, allowAnonymous`)
  }
  const list = input.authenticators ?? []
  if (!Array.isArray(list)) throw new ConfigError('setting "auth.authenticators" must be a list, e.g. [{type: password-file, file: /etc/mqttws/passwd}]')
  const ids = new Set<string>()
  const authenticators = list.map((a: unknown, i) => resolveAuthenticator(`auth.authenticators[${i}]`, a, ids))
  return Object.freeze({authenticators: Object.freeze(authenticators), allowAnonymous: bool('auth.allowAnonymous', input.allowAnonymous, false)})
}
