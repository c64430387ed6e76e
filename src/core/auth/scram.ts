/**
 * SCRAM (RFC 5802) with SHA-256 and SHA-512 (RFC 7677): the math and the message syntax,
 * shared by the broker's side of MQTT 5 enhanced authentication (scram-server.ts), our
 * client (scram-client.ts) and the password file, which stores SCRAM credentials (salt,
 * iterations, StoredKey, ServerKey: never the password) as
 *   user:$scram-sha-256$<iterations>$<salt b64>$<StoredKey b64>$<ServerKey b64>
 * PBKDF2 runs on libuv's thread pool (crypto.pbkdf2), never on the event loop; the HMACs
 * and hashes of one exchange take microseconds. Passwords are their UTF-8 bytes: SASLprep
 * is not applied (it changes nothing in ASCII passwords).
 */
import {createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual} from 'node:crypto'

export type ScramAlgorithm = 'sha256' | 'sha512'

/** The MQTT 5 Authentication Method of each algorithm (as EMQX names them). */
export const SCRAM_METHODS: Readonly<Record<ScramAlgorithm, string>> = Object.freeze({sha256: 'SCRAM-SHA-256', sha512: 'SCRAM-SHA-512'})

/** The algorithm of an Authentication Method, or undefined when it is not SCRAM. */
export function scramAlgorithmOf(method: string): ScramAlgorithm | undefined {
  if (method === 'SCRAM-SHA-256') return 'sha256'
  if (method === 'SCRAM-SHA-512') return 'sha512'
  return undefined
}

/** RFC 7677 §4: at least 4096. mqttws writes OWASP's PBKDF2 figures by default. */
export const SCRAM_MIN_ITERATIONS = 4096
export const SCRAM_DEFAULT_ITERATIONS: Readonly<Record<ScramAlgorithm, number>> = Object.freeze({sha256: 600_000, sha512: 210_000})
export const SCRAM_MAX_ITERATIONS = 10_000_000
const HASH_BYTES: Readonly<Record<ScramAlgorithm, number>> = Object.freeze({sha256: 32, sha512: 64})

/** What the server keeps of a SCRAM user. */
export interface ScramCredentials {
  readonly kind: 'scram'
  readonly algorithm: ScramAlgorithm
  readonly iterations: number
  readonly salt: Buffer
  readonly storedKey: Buffer
  readonly serverKey: Buffer
}

export function hmac(algorithm: ScramAlgorithm, key: Buffer, text: string | Buffer): Buffer {
  return createHmac(algorithm, key).update(text).digest()
}

export function hash(algorithm: ScramAlgorithm, data: Buffer): Buffer {
  return createHash(algorithm).update(data).digest()
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i]
  return out
}

/** SaltedPassword := Hi(password, salt, i), i.e. PBKDF2-HMAC (off the event loop). */
export function saltedPassword(algorithm: ScramAlgorithm, password: Buffer, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, HASH_BYTES[algorithm], algorithm, (error, key) => (error ? reject(error) : resolve(key)))
  })
}

/** ClientKey, StoredKey and ServerKey from SaltedPassword (RFC 5802 §3). */
export function keysOf(algorithm: ScramAlgorithm, salted: Buffer): {clientKey: Buffer; storedKey: Buffer; serverKey: Buffer} {
  const clientKey = hmac(algorithm, salted, 'Client Key')
  return {clientKey, storedKey: hash(algorithm, clientKey), serverKey: hmac(algorithm, salted, 'Server Key')}
}

/** New SCRAM credentials for a password (a fresh 16-byte salt). */
export async function makeScramCredentials(algorithm: ScramAlgorithm, password: string | Buffer, iterations = SCRAM_DEFAULT_ITERATIONS[algorithm]): Promise<ScramCredentials> {
  if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
    throw new RangeError(`SCRAM iterations ${iterations} must be a whole number from ${SCRAM_MIN_ITERATIONS} (RFC 7677) to ${SCRAM_MAX_ITERATIONS}`)
  }
  const salt = randomBytes(16)
  const {storedKey, serverKey} = keysOf(algorithm, await saltedPassword(algorithm, Buffer.from(password), salt, iterations))
  return {kind: 'scram', algorithm, iterations, salt, storedKey, serverKey}
}

const PREFIX: Readonly<Record<ScramAlgorithm, string>> = Object.freeze({sha256: '$scram-sha-256$', sha512: '$scram-sha-512$'})

/** The password-file form (after "user:"). */
export function formatScramCredentials(c: ScramCredentials): string {
  return `${PREFIX[c.algorithm]}${c.iterations}$${c.salt.toString('base64')}$${c.storedKey.toString('base64')}$${c.serverKey.toString('base64')}`
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/

/** Parses "$scram-sha-256$…" / "$scram-sha-512$…"; a problem description when the text is one but broken; undefined when it is not SCRAM. */
export function parseScramCredentials(text: string): ScramCredentials | string | undefined {
  const algorithm: ScramAlgorithm | undefined = text.startsWith(PREFIX.sha256) ? 'sha256' : text.startsWith(PREFIX.sha512) ? 'sha512' : undefined
  if (algorithm === undefined) return undefined
  const parts = text.slice(PREFIX[algorithm].length).split('$')
  if (parts.length !== 4) return `a ${SCRAM_METHODS[algorithm]} entry is $scram-…$ITERATIONS$SALT$STOREDKEY$SERVERKEY (make it with mqttws passwd --scram)`
  const [it, salt, stored, server] = parts
  const iterations = Number(it)
  if (!/^\d+$/.test(it) || iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
    return `SCRAM iterations "${it}" must be ${SCRAM_MIN_ITERATIONS} to ${SCRAM_MAX_ITERATIONS}`
  }
  if (![salt, stored, server].every((p) => B64.test(p))) return 'the SCRAM salt or keys are not base64'
  const c: ScramCredentials = {
    kind: 'scram',
    algorithm,
    iterations,
    salt: Buffer.from(salt, 'base64'),
    storedKey: Buffer.from(stored, 'base64'),
    serverKey: Buffer.from(server, 'base64'),
  }
  if (c.storedKey.length !== HASH_BYTES[algorithm] || c.serverKey.length !== HASH_BYTES[algorithm]) {
    return `the SCRAM keys must be ${HASH_BYTES[algorithm]} bytes for ${SCRAM_METHODS[algorithm]}`
  }
  return c
}

/** Whether `password` gives these credentials (the plain user name/password path): StoredKey compared timing-safe. */
export async function verifyScramPassword(password: Buffer, c: ScramCredentials): Promise<boolean> {
  const {storedKey} = keysOf(c.algorithm, await saltedPassword(c.algorithm, password, c.salt, c.iterations))
  return timingSafeEqual(storedKey, c.storedKey)
}

// ---- message syntax (RFC 5802 §5.1, §7) ----

/** saslname: "=" and "," are written =3D and =2C. */
export function encodeSaslName(name: string): string {
  return name.replaceAll('=', '=3D').replaceAll(',', '=2C')
}

/** The name, or undefined when an "=" is not followed by 2C or 3D. */
export function decodeSaslName(text: string): string | undefined {
  if (/=(?!2C|3D)/.test(text)) return undefined
  return text.replaceAll('=2C', ',').replaceAll('=3D', '=')
}

/** A client or server nonce: printable ASCII without ",". */
export function newNonce(): string {
  return randomBytes(18).toString('base64')
}

export const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/

/** "a=1,b=2" → Map; undefined on a malformed attribute. */
export function parseAttributes(text: string): Map<string, string> | undefined {
  const out = new Map<string, string>()
  for (const part of text.split(',')) {
    if (part.length < 2 || part[1] !== '=' || !/[A-Za-z]/.test(part[0]) || out.has(part[0])) return undefined
    out.set(part[0], part.slice(2))
  }
  return out
}

/** ClientSignature := HMAC(StoredKey, AuthMessage); ServerSignature := HMAC(ServerKey, AuthMessage). */
export function signatures(algorithm: ScramAlgorithm, storedKey: Buffer, serverKey: Buffer, authMessage: string): {client: Buffer; server: Buffer} {
  return {client: hmac(algorithm, storedKey, authMessage), server: hmac(algorithm, serverKey, authMessage)}
}
