/**
 * Password hashes in Mosquitto's password-file format (libcommon/password_common.c):
 *   $6$<salt b64>$<hash b64>              SHA-512 of password then salt, one round (mosquitto_passwd -H sha512)
 *   $7$<iterations>$<salt b64>$<hash b64> PBKDF2-HMAC-SHA512, 64-byte hash (mosquitto_passwd's default)
 * mqttws writes $7$ with 210,000 iterations and a 16-byte salt (OWASP's PBKDF2-SHA512
 * figure); Mosquitto reads those too. Hashing runs on libuv's thread pool (crypto.pbkdf2),
 * never on the event loop, and comparisons are timing-safe.
 */
import {createHash, pbkdf2, randomBytes, timingSafeEqual} from 'node:crypto'
import type {ScramCredentials} from './scram.js'
import {parseScramCredentials, verifyScramPassword} from './scram.js'

export const DEFAULT_ITERATIONS = 210_000
export const SALT_BYTES = 16
const HASH_BYTES = 64
/** Past this a line is refused as implausible (and as a way to make the broker spin). */
export const MAX_ITERATIONS = 10_000_000

export type PasswordHash =
  | {kind: 'sha512'; salt: Buffer; hash: Buffer}
  | {kind: 'pbkdf2-sha512'; iterations: number; salt: Buffer; hash: Buffer}
  /** mqttws's SCRAM entries ($scram-sha-256$, $scram-sha-512$; scram.ts): also checked for a plain password. */
  | ScramCredentials

const B64 = /^[A-Za-z0-9+/]+={0,2}$/

/** Parses the part after "user:"; returns a problem description for a line it cannot use. */
export function parseHash(text: string): PasswordHash | string {
  const scram = parseScramCredentials(text)
  if (scram !== undefined) return scram
  const parts = text.split('$')
  if (parts[0] !== '' || parts.length < 4) return 'not a $6$ or $7$ hash (a plain-text password? run mqttws passwd on the file)'
  if (parts[1] === '6' && parts.length === 4) {
    if (!B64.test(parts[2]) || !B64.test(parts[3])) return 'the $6$ salt or hash is not base64'
    return {kind: 'sha512', salt: Buffer.from(parts[2], 'base64'), hash: Buffer.from(parts[3], 'base64')}
  }
  if (parts[1] === '7' && parts.length === 5) {
    const iterations = Number(parts[2])
    if (!/^\d+$/.test(parts[2]) || iterations < 1 || iterations > MAX_ITERATIONS) return `iterations "${parts[2]}" must be 1 to ${MAX_ITERATIONS}`
    if (!B64.test(parts[3]) || !B64.test(parts[4])) return 'the $7$ salt or hash is not base64'
    const hash = Buffer.from(parts[4], 'base64')
    if (hash.length === 0) return 'the $7$ hash is empty'
    return {kind: 'pbkdf2-sha512', iterations, salt: Buffer.from(parts[3], 'base64'), hash}
  }
  if (parts[1] === 'argon2id') return 'argon2id hashes are not supported: make the file with mqttws passwd or mosquitto_passwd -H sha512-pbkdf2'
  return `unknown hash type $${parts[1]}$: use $7$ (PBKDF2-SHA512), $6$ (SHA-512), $scram-sha-256$ or $scram-sha-512$`
}

function derive(password: Buffer, salt: Buffer, iterations: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, length, 'sha512', (error, key) => (error ? reject(error) : resolve(key)))
  })
}

/** Whether `password` matches; the comparison is timing-safe. */
export async function verifyPassword(password: Buffer, h: PasswordHash): Promise<boolean> {
  let computed: Buffer
  if (h.kind === 'scram') return verifyScramPassword(password, h)
  if (h.kind === 'sha512') {
    computed = createHash('sha512').update(password).update(h.salt).digest()
  } else {
    computed = await derive(password, h.salt, h.iterations, h.hash.length)
  }
  return computed.length === h.hash.length && timingSafeEqual(computed, h.hash)
}

/** A new $7$ hash of `password` (PBKDF2-SHA512, a fresh random salt). */
export async function hashPassword(password: string | Buffer, iterations = DEFAULT_ITERATIONS): Promise<string> {
  if (!Number.isInteger(iterations) || iterations < 1000 || iterations > MAX_ITERATIONS) {
    throw new RangeError(`iterations ${iterations} must be a whole number from 1000 to ${MAX_ITERATIONS}`)
  }
  const salt = randomBytes(SALT_BYTES)
  const hash = await derive(typeof password === 'string' ? Buffer.from(password, 'utf8') : password, salt, iterations, HASH_BYTES)
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`
}

/** Runs at most `limit` hash jobs at once (the thread pool is shared with fs and dns); the rest wait in order, up to `maxWaiting`. */
export class HashGate {
  private running = 0
  private readonly waiting: Array<() => void> = []
  constructor(
    private readonly limit = 2,
    private readonly maxWaiting = 1000,
  ) {}

  /** Runs `job` when a slot is free; resolves undefined at once when too many are waiting (the caller refuses: server busy). */
  async run<T>(job: () => Promise<T>): Promise<T | undefined> {
    if (this.running >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) return undefined
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else {
      this.running++
    }
    try {
      return await job()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }
}
