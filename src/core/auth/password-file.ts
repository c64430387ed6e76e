/**
 * The password-file authenticator (Mosquitto's password_file): `user:$7$…` lines, read
 * from the path it was given at start and again on reload (SIGHUP, the admin API) without
 * touching connected clients. An unknown user is ignored (another authenticator may know
 * it), after a hash of the same cost, so that timing does not tell which users exist; a
 * known user with a wrong or missing password is denied with 0x86. Also the editing behind
 * `mqttws passwd`.
 */
import {randomBytes} from 'node:crypto'
import {chmod, readFile, rename, stat, unlink, writeFile} from 'node:fs/promises'
import type {ConnectInfo, EnhancedAuth, Principal} from '../broker/auth.js'
import {ConfigError} from '../errors.js'
import type {Logger} from '../logger.js'
import {noopLogger} from '../logger.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import type {PasswordFileConfig} from './config.js'
import {DEFAULT_ITERATIONS, HashGate, hashPassword, parseHash, verifyPassword} from './password-hash.js'
import type {PasswordHash} from './password-hash.js'
import type {Authenticator, Decision} from './types.js'
import type {ScramAlgorithm} from './scram.js'
import {formatScramCredentials, makeScramCredentials, scramAlgorithmOf} from './scram.js'
import {ScramServerExchange} from './scram-server.js'

export interface ParsedPasswordFile {
  users: Map<string, PasswordHash>
  /** Lines that could not be used: their users cannot log in. */
  problems: string[]
}

/** Parses a password file's text (blank lines and # comments are skipped). */
export function parsePasswordFile(text: string, file: string): ParsedPasswordFile {
  const users = new Map<string, PasswordHash>()
  const problems: string[] = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.trim() === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon <= 0) {
      problems.push(`${file}:${i + 1}: not a "user:hash" line`)
      continue
    }
    const user = line.slice(0, colon)
    const h = parseHash(line.slice(colon + 1).trim())
    if (typeof h === 'string') {
      problems.push(`${file}:${i + 1}: user "${user}": ${h}`)
      users.delete(user)
      continue
    }
    users.set(user, h)
  }
  return {users, problems}
}

async function readPasswordFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new ConfigError(`password file ${file} does not exist: create it with mqttws passwd -c ${file} USER`)
    if (code === 'EACCES') throw new ConfigError(`password file ${file} is not readable (EACCES): check its owner and mode (0600)`)
    throw new ConfigError(`cannot read password file ${file}: ${(error as Error).message}`)
  }
}

/** One gate for every password file in the process: a storm of logins queues here instead of filling the thread pool. */
const gate = new HashGate(2, 1000)

export class PasswordFileAuthenticator implements Authenticator {
  readonly type = 'password-file'
  readonly id: string
  private users = new Map<string, PasswordHash>()
  private dummy: PasswordHash = {kind: 'pbkdf2-sha512', iterations: DEFAULT_ITERATIONS, salt: randomBytes(16), hash: randomBytes(64)}
  private loadedAt: Date | undefined

  constructor(
    private readonly config: PasswordFileConfig,
    private readonly log: Logger = noopLogger,
  ) {
    this.id = config.id
  }

  /** Reads the file; on failure the users loaded before stay (and the error is thrown). */
  async reload(): Promise<void> {
    const parsed = parsePasswordFile(await readPasswordFile(this.config.file), this.config.file)
    for (const p of parsed.problems) this.log.warn('password file line skipped', {problem: p})
    this.users = parsed.users
    // The dummy for unknown users costs what a real user does.
    const first = parsed.users.values().next().value as PasswordHash | undefined
    this.dummy =
      first?.kind === 'scram'
        ? {...first, salt: randomBytes(16), storedKey: randomBytes(first.storedKey.length)}
        : {kind: 'pbkdf2-sha512', iterations: first?.kind === 'pbkdf2-sha512' ? first.iterations : DEFAULT_ITERATIONS, salt: randomBytes(16), hash: randomBytes(64)}
    this.loadedAt = new Date()
    this.log.info('password file loaded', {file: this.config.file, users: parsed.users.size})
  }

  async authenticate(info: ConnectInfo): Promise<Decision> {
    if (info.username === undefined) return {result: 'ignore', presented: info.password !== undefined}
    const known = this.users.get(info.username)
    const ok = await gate.run(() => verifyPassword(info.password ?? Buffer.alloc(0), known ?? this.dummy))
    if (ok === undefined) return {result: 'deny', reasonCode: ReasonCode.ServerBusy, reason: 'too many logins at once: try again shortly'}
    if (known === undefined) return {result: 'ignore', presented: true}
    if (ok && info.password !== undefined) return {result: 'allow', grant: {username: info.username}}
    return {result: 'deny', reasonCode: ReasonCode.BadUserNameOrPassword, reason: 'bad user name or password'}
  }

  /** SCRAM-SHA-256 and SCRAM-SHA-512 (MQTT 5 enhanced authentication) for the users with SCRAM entries. */
  enhanced(method: string, info: ConnectInfo, reauth?: Principal): EnhancedAuth | undefined {
    const algorithm = scramAlgorithmOf(method)
    if (algorithm === undefined) return undefined
    let fakeIterations: number | undefined
    for (const h of this.users.values()) {
      if (h.kind === 'scram' && h.algorithm === algorithm) {
        fakeIterations = h.iterations
        break
      }
    }
    return new ScramServerExchange({
      algorithm,
      lookup: (user, alg) => {
        const h = this.users.get(user)
        return h?.kind === 'scram' && h.algorithm === alg ? h : undefined
      },
      authenticator: this.id,
      expectUser: reauth !== undefined ? reauth.username : info.username,
      fakeIterations,
    })
  }

  describe(): Record<string, unknown> {
    let scram = 0
    for (const h of this.users.values()) if (h.kind === 'scram') scram++
    return {type: this.type, id: this.id, file: this.config.file, users: this.users.size, scramUsers: scram, loadedAt: this.loadedAt?.toISOString()}
  }
}

// ---- editing (mqttws passwd) ----

export type PasswordFileEdit =
  /** `scram`: write SCRAM credentials for that algorithm (usable by SCRAM and by a plain password) instead of a $7$ hash. */
  | {op: 'set'; user: string; password: string; iterations?: number; scram?: ScramAlgorithm}
  | {op: 'delete'; user: string}

/** A user name the file format can hold: no ":", no line break, not empty. */
export function userNameProblem(user: string): string | undefined {
  if (user === '') return 'a user name cannot be empty'
  if (user.includes(':')) return `user name "${user}" contains ":", which separates the name from the hash in the file`
  if (/[\r\n]/.test(user)) return 'a user name cannot contain a line break'
  if (Buffer.byteLength(user) > 65535) return 'a user name is at most 65535 bytes (MQTT)'
  return undefined
}

/**
 * Creates or updates a user's line, or deletes it, keeping every other line as it was.
 * `create` starts a new file (replacing one that exists). The file is written beside
 * itself and renamed into place; a new file gets mode 0600, an existing one keeps its mode.
 * Returns whether the user was added (not updated) or deleted.
 */
export async function editPasswordFile(file: string, edit: PasswordFileEdit, options: {create?: boolean} = {}): Promise<{added: boolean}> {
  const problem = userNameProblem(edit.user)
  if (problem) throw new ConfigError(problem)
  let text = ''
  let mode = 0o600
  if (!options.create) {
    text = await readPasswordFile(file)
    mode = (await stat(file)).mode & 0o777
  }
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/)
  const index = lines.findIndex((l) => !l.startsWith('#') && l.slice(0, l.indexOf(':')) === edit.user)
  let added = false
  if (edit.op === 'delete') {
    if (index === -1) throw new ConfigError(`user "${edit.user}" is not in ${file}: nothing to delete`)
    lines.splice(index, 1)
  } else {
    if (edit.password === '') throw new ConfigError('the password is empty: give one')
    const hashed = edit.scram === undefined ? await hashPassword(edit.password, edit.iterations) : formatScramCredentials(await makeScramCredentials(edit.scram, edit.password, edit.iterations))
    const line = `${edit.user}:${hashed}`
    if (index === -1) {
      lines.push(line)
      added = true
    } else {
      lines[index] = line
    }
  }
  const tmp = `${file}.tmp-${process.pid}`
  try {
    await writeFile(tmp, lines.length > 0 ? `${lines.join('\n')}\n` : '', {mode})
    await chmod(tmp, mode)
    await rename(tmp, file)
  } catch (error) {
    await unlink(tmp).catch(() => {})
    throw new ConfigError(`cannot write password file ${file}: ${(error as Error).message}`)
  }
  return {added}
}
