/**
 * The JWT authenticator (jose). The token comes from the CONNECT password (or user name,
 * `from`), or on WebSocket from the upgrade's `Authorization: Bearer` header or a query
 * parameter. Keys: an HMAC secret, a public key, or a JWKS URL (keys by kid, cached,
 * fetched again after `jwksRefreshMs` and on an unknown kid at most once per
 * `jwksCooldownMs`). Algorithms are pinned to the key's kind: never "none", never HMAC with
 * a public key. A token that is not ours to judge (no token, another key) is ignored; one
 * with a valid signature but expired, not yet valid or with wrong claims is denied (0x86);
 * keys that cannot be fetched deny (0x87).
 */
import {createPublicKey, createSecretKey} from 'node:crypto'
import type {KeyObject} from 'node:crypto'
import {createRemoteJWKSet, errors, jwtVerify} from 'jose'
import type {JWTPayload, JWTVerifyGetKey} from 'jose'
import type {ConnectInfo} from '../broker/auth.js'
import {ConfigError} from '../errors.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import type {JwtConfig} from './config.js'
import {HMAC_ALGORITHMS, PUBLIC_KEY_ALGORITHMS} from './config.js'
import type {Authenticator, Decision, Grant} from './types.js'

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** The algorithms a public key can verify (RSA: RS and PS; EC by curve; Ed25519: EdDSA). */
export function algorithmsForKey(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      if (curve === 'prime256v1') return ['ES256']
      if (curve === 'secp384r1') return ['ES384']
      if (curve === 'secp521r1') return ['ES512']
      throw new ConfigError(`the JWT public key is on curve ${curve}: use P-256, P-384 or P-521`)
    }
    case 'ed25519':
      return ['EdDSA']
    default:
      throw new ConfigError(`the JWT public key is of type ${key.asymmetricKeyType}: use an RSA, EC or Ed25519 key`)
  }
}

function publicKeyOf(text: string): KeyObject {
  try {
    const trimmed = text.trim()
    const key = trimmed.startsWith('{') ? createPublicKey({key: JSON.parse(trimmed) as never, format: 'jwk'}) : createPublicKey(trimmed)
    if (key.type !== 'public') throw new Error('not a public key')
    return key
  } catch (error) {
    throw new ConfigError(`the JWT public key cannot be read: ${(error as Error).message} (give a PEM "PUBLIC KEY" or a certificate)`)
  }
}

/** The token the client presented, and where it was. */
export function tokenOf(info: ConnectInfo, c: Pick<JwtConfig, 'from' | 'bearerHeader' | 'queryParam'>): string | undefined {
  const field = c.from === 'password' ? info.password?.toString('utf8') : info.username
  if (field !== undefined && field !== '') return field
  const request = info.request
  if (request === undefined) return undefined
  if (c.bearerHeader) {
    const header = request.headers.authorization
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    if (m) return m[1]
  }
  if (c.queryParam !== undefined) {
    const value = new URL(request.url, 'http://upgrade.invalid').searchParams.get(c.queryParam)
    if (value !== null && value !== '') return value
  }
  return undefined
}

const IGNORED_CODES = new Set(['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'ERR_JOSE_ALG_NOT_ALLOWED', 'ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS', 'ERR_JWS_INVALID', 'ERR_JWT_INVALID', 'ERR_JOSE_NOT_SUPPORTED'])

export class JwtAuthenticator implements Authenticator {
  readonly type = 'jwt'
  readonly id: string
  private readonly key: KeyObject | JWTVerifyGetKey
  private readonly algorithms: string[]

  constructor(private readonly config: JwtConfig) {
    this.id = config.id
    if (config.secret !== undefined) {
      this.key = createSecretKey(config.secretBase64 ? Buffer.from(config.secret, 'base64') : Buffer.from(config.secret, 'utf8'))
      this.algorithms = [...(config.algorithms ?? HMAC_ALGORITHMS)]
    } else if (config.publicKey !== undefined) {
      const key = publicKeyOf(config.publicKey)
      const fits = algorithmsForKey(key)
      const asked = config.algorithms ?? fits
      const misfit = asked.find((a) => !fits.includes(a))
      if (misfit) throw new ConfigError(`JWT algorithm ${misfit} does not fit the ${key.asymmetricKeyType} public key: use ${fits.join(', ')}`)
      this.key = key
      this.algorithms = [...asked]
    } else {
      // Each JWK is used with the algorithm it names (alg) or its kind allows; HMAC keys in a JWKS are never used.
      this.key = createRemoteJWKSet(new URL(config.jwksUrl!), {
        timeoutDuration: config.jwksTimeoutMs,
        cooldownDuration: config.jwksCooldownMs,
        cacheMaxAge: config.jwksRefreshMs,
      })
      this.algorithms = [...(config.algorithms ?? PUBLIC_KEY_ALGORITHMS)]
    }
  }

  async authenticate(info: ConnectInfo): Promise<Decision> {
    const token = tokenOf(info, this.config)
    if (token === undefined) return {result: 'ignore', presented: info.username !== undefined || info.password !== undefined}
    return this.verify(token, info)
  }

  /** WebSocket: the token of the upgrade request (bearer header, query parameter), checked before the handshake completes. */
  checkUpgrade(request: NonNullable<ConnectInfo['request']>): Promise<Decision> | undefined {
    const token = tokenOf({clientId: '', remote: '', scheme: 'ws', protocolVersion: 5, request}, this.config)
    return token === undefined ? undefined : this.verify(token, undefined)
  }

  /** Verifies a token; without `info` (the upgrade request) claims that name ${clientid} or ${username} wait for the CONNECT. */
  private async verify(token: string, info: ConnectInfo | undefined): Promise<Decision> {
    if (!JWT_SHAPE.test(token)) return {result: 'ignore', presented: true}
    const c = this.config
    let payload: JWTPayload
    try {
      const verified = await jwtVerify(token, this.key as KeyObject, {
        algorithms: this.algorithms,
        clockTolerance: c.clockToleranceMs / 1000,
        ...(c.issuer === undefined ? {} : {issuer: [...c.issuer]}),
        ...(c.audience === undefined ? {} : {audience: [...c.audience]}),
        ...(c.requireExp ? {requiredClaims: ['exp']} : {}),
      })
      payload = verified.payload
    } catch (error) {
      const code = (error as {code?: string}).code
      if (code !== undefined && IGNORED_CODES.has(code)) return {result: 'ignore', presented: true}
      if (error instanceof errors.JWTExpired) return deny(ReasonCode.BadUserNameOrPassword, 'the token has expired')
      if (error instanceof errors.JWTClaimValidationFailed) {
        const claim = error.claim
        if (claim === 'nbf') return deny(ReasonCode.BadUserNameOrPassword, 'the token is not valid yet (nbf)')
        if (claim === 'exp') return deny(ReasonCode.BadUserNameOrPassword, 'the token has no expiry (exp)')
        return deny(ReasonCode.BadUserNameOrPassword, `the token's "${claim}" claim is not accepted`)
      }
      if (code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JWKS_INVALID' || !(error instanceof errors.JOSEError)) {
        return deny(ReasonCode.NotAuthorized, `the keys to check the token cannot be fetched: ${(error as Error).message}`)
      }
      return {result: 'ignore', presented: true}
    }
    for (const [name, expected] of Object.entries(c.verifyClaims)) {
      if (info === undefined && (expected.includes('${clientid}') || expected.includes('${username}'))) continue
      const want = expected.replaceAll('${clientid}', info?.clientId ?? '').replaceAll('${username}', info?.username ?? '')
      const got = payload[name]
      if (got === undefined || String(got) !== want) return deny(ReasonCode.BadUserNameOrPassword, `the token's "${name}" claim does not match`)
    }
    const attributes: Record<string, unknown> = {claims: payload}
    if (payload[c.aclClaim] !== undefined) attributes.acl = payload[c.aclClaim]
    const grant: Grant = {attributes}
    if (c.superuserClaim !== undefined && payload[c.superuserClaim] === true) grant.superuser = true
    if (c.disconnectOnExpiry && typeof payload.exp === 'number') grant.expiresAt = payload.exp * 1000 + c.clockToleranceMs
    return {result: 'allow', grant}
  }

  describe(): Record<string, unknown> {
    const c = this.config
    return {
      type: this.type,
      id: this.id,
      from: c.from,
      keys: c.secret !== undefined ? 'secret' : c.publicKey !== undefined ? 'public key' : `jwks ${c.jwksUrl}`,
      algorithms: this.algorithms,
      ...(c.issuer ? {issuer: c.issuer} : {}),
      ...(c.audience ? {audience: c.audience} : {}),
      requireExp: c.requireExp,
      bearerHeader: c.bearerHeader,
      ...(c.queryParam ? {queryParam: c.queryParam} : {}),
    }
  }
}

function deny(reasonCode: number, reason: string): Decision {
  return {result: 'deny', reasonCode, reason}
}
