/**
 * `serve` flags for authentication, the config file's `auth` section (paths there are
 * relative to the file), and reload on SIGHUP. Files named here are read here (the JWT
 * public key) or handed to the core by path (the password file, re-read on reload).
 */
import {readFile} from 'node:fs/promises'
import {resolve} from 'node:path'
import {Flags} from '@oclif/core'
import type {AuthConfigInput} from '../core/auth/config.js'
import type {Broker} from '../core/broker/broker.js'
import type {BrokerConfigInput} from '../core/config.js'
import {ConfigError} from '../core/errors.js'
import type {Logger} from '../core/logger.js'

const AUTH = 'AUTHENTICATION'

export const serveAuthFlags = {
  'password-file': Flags.string({summary: 'Mosquitto-compatible password file (make it with `mqttws passwd -c FILE USER` or mosquitto_passwd); re-read on SIGHUP.', helpGroup: AUTH, env: 'MQTTWS_PASSWORD_FILE'}),
  'jwt-secret': Flags.string({summary: 'JWT in the password field, HS256/384/512 with this secret (at least 32 bytes).', helpGroup: AUTH, env: 'MQTTWS_JWT_SECRET', exclusive: ['jwt-public-key', 'jwks']}),
  'jwt-public-key': Flags.string({summary: 'JWT in the password field, RS/PS/ES/EdDSA with the public key in this PEM file.', helpGroup: AUTH, exclusive: ['jwt-secret', 'jwks']}),
  jwks: Flags.string({summary: 'JWT in the password field, keys from this JWKS URL (by kid, cached, refreshed every 5 min).', helpGroup: AUTH, exclusive: ['jwt-secret', 'jwt-public-key']}),
  'jwt-audience': Flags.string({summary: 'The JWT "aud" claim must hold this value.', helpGroup: AUTH}),
  'jwt-issuer': Flags.string({summary: 'The JWT "iss" claim must be this value.', helpGroup: AUTH}),
  'auth-http': Flags.string({summary: 'Ask this HTTP service (EMQX contract: POST JSON, answer {"result": "allow"|"deny"|"ignore"}).', helpGroup: AUTH}),
  'tls-client-ca': Flags.string({summary: 'mTLS: ask TLS clients for a certificate signed by the CA in this PEM file (mqtts:// and wss:// listeners).', helpGroup: 'TLS'}),
  'tls-client-cert': Flags.option({options: ['request', 'require'] as const, summary: 'With --tls-client-ca: request (default; others may log in otherwise) or require a verified client certificate.', helpGroup: 'TLS', dependsOn: ['tls-client-ca']})(),
  'auth-client-cert': Flags.boolean({summary: "Let in TLS clients whose certificate verified against --tls-client-ca, with the certificate's CN as user name.", helpGroup: AUTH}),
  'allow-anonymous': Flags.boolean({
    summary: 'Let clients without credentials in (needed to bind a non-loopback address without any authenticator).',
    helpGroup: AUTH,
    allowNo: true,
  }),
}

export interface AuthFlags {
  'password-file'?: string
  'jwt-secret'?: string
  'jwt-public-key'?: string
  jwks?: string
  'jwt-audience'?: string
  'jwt-issuer'?: string
  'auth-http'?: string
  'tls-client-ca'?: string
  'tls-client-cert'?: string
  'auth-client-cert'?: boolean
  'allow-anonymous'?: boolean
}

async function readKey(path: string, where: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`${where}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give the path of a PEM file`)
  }
}

/** The config file's `auth`: a password file's path and a JWT `publicKeyFile` are relative to the file; the key is read here. */
export async function resolveAuthFiles(auth: unknown, baseDir: string): Promise<unknown> {
  if (typeof auth !== 'object' || auth === null || !Array.isArray((auth as AuthConfigInput).authenticators)) return auth
  const a = auth as AuthConfigInput
  const authenticators = await Promise.all(
    a.authenticators!.map(async (entry, i) => {
      if (typeof entry !== 'object' || entry === null) return entry
      const out: Record<string, unknown> = {...entry}
      if (entry.type === 'password-file' && typeof entry.file === 'string') out.file = resolve(baseDir, entry.file)
      if (entry.type === 'jwt' && entry.publicKeyFile !== undefined) {
        if (typeof entry.publicKeyFile !== 'string') throw new ConfigError(`setting "auth.authenticators[${i}].publicKeyFile" must be a file path`)
        if (entry.publicKey !== undefined) throw new ConfigError(`setting "auth.authenticators[${i}]" has both publicKey and publicKeyFile: keep one`)
        const {publicKeyFile, ...rest} = out
        return {...rest, publicKey: await readKey(resolve(baseDir, publicKeyFile as string), `setting "auth.authenticators[${i}].publicKeyFile"`)}
      }
      return out
    }),
  )
  return {...a, authenticators}
}

/** Adds the flags' authenticators after those of the config file (password file, JWT, HTTP, in that order). */
export async function applyAuthFlags(input: BrokerConfigInput, flags: AuthFlags): Promise<void> {
  const list: Array<Record<string, unknown>> = [...(input.auth?.authenticators ?? [])]
  const taken = new Set(list.map((a) => a.id ?? a.type))
  const add = (entry: Record<string, unknown>): void => {
    let id = entry.type as string
    for (let n = 2; taken.has(id); n++) id = `${entry.type as string}-${n}`
    taken.add(id)
    list.push({...entry, id})
  }
  if (flags['auth-client-cert']) add({type: 'client-cert'})
  if (flags['password-file'] !== undefined) add({type: 'password-file', file: resolve(flags['password-file'])})
  const jwt: Record<string, unknown> = {type: 'jwt'}
  if (flags['jwt-secret'] !== undefined) jwt.secret = flags['jwt-secret']
  if (flags['jwt-public-key'] !== undefined) jwt.publicKey = await readKey(resolve(flags['jwt-public-key']), '--jwt-public-key')
  if (flags.jwks !== undefined) jwt.jwksUrl = flags.jwks
  const hasKey = Object.keys(jwt).length > 1
  if (!hasKey && (flags['jwt-audience'] !== undefined || flags['jwt-issuer'] !== undefined)) {
    throw new ConfigError('--jwt-audience and --jwt-issuer need a JWT key: add --jwt-secret, --jwt-public-key FILE or --jwks URL')
  }
  if (flags['jwt-audience'] !== undefined) jwt.audience = flags['jwt-audience']
  if (flags['jwt-issuer'] !== undefined) jwt.issuer = flags['jwt-issuer']
  if (hasKey) add(jwt)
  if (flags['auth-http'] !== undefined) add({type: 'http', url: flags['auth-http']})
  if (list.length === 0 && flags['allow-anonymous'] === undefined && input.auth === undefined) return
  input.auth = {...input.auth, authenticators: list, ...(flags['allow-anonymous'] === undefined ? {} : {allowAnonymous: flags['allow-anonymous']})}
}

/** --tls-client-ca/--tls-client-cert on top of the TLS material (flags, file or --dev-cert); call after it is settled. */
export async function applyClientCaFlags(input: BrokerConfigInput, flags: AuthFlags): Promise<void> {
  if (flags['tls-client-ca'] === undefined) return
  if (input.tls === undefined) throw new ConfigError('--tls-client-ca needs a server certificate: add --tls-cert FILE --tls-key FILE, or --dev-cert')
  const clientCa = await readKey(resolve(flags['tls-client-ca']), '--tls-client-ca')
  input.tls = {...input.tls, clientCa, clientCert: (flags['tls-client-cert'] as 'request' | 'require' | undefined) ?? 'request'}
}

/** Reloads authentication on SIGHUP (password files), logging the outcome; returns the remover. */
export function reloadAuthOnSighup(broker: Broker, logger: Logger): () => void {
  const handler = (): void => {
    broker.reloadAuth().then(
      (results) => logger.info('authentication reloaded (SIGHUP)', {results: results as never}),
      (error: Error) => logger.error('authentication reload failed', {error: error.message}),
    )
  }
  process.on('SIGHUP', handler)
  return () => process.off('SIGHUP', handler)
}
