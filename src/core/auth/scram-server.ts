/**
 * The broker's side of one SCRAM exchange (RFC 5802 §3, §5; MQTT 5 §4.12 enhanced
 * authentication): client-first (CONNECT's Authentication Data) → server-first (AUTH 0x18)
 * → client-final (AUTH 0x18) → server-final (CONNACK 0x00, or AUTH 0x00 on
 * re-authentication). An unknown user gets a salt and iteration count made up from the
 * name (the same every time), so the exchange does not tell which users exist; it fails
 * at the proof as a wrong password does (0x86). No channel binding ("p=" is refused).
 */
import {createHmac, randomBytes, timingSafeEqual} from 'node:crypto'
import type {EnhancedAuth, EnhancedStep} from '../broker/auth.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import type {ScramAlgorithm, ScramCredentials} from './scram.js'
import {NONCE, SCRAM_DEFAULT_ITERATIONS, SCRAM_METHODS, decodeSaslName, hash, newNonce, parseAttributes, signatures, xor} from './scram.js'

/** Where the exchange finds a user's credentials (the password file). */
export type ScramLookup = (username: string, algorithm: ScramAlgorithm) => ScramCredentials | undefined

/** One process-wide secret for the made-up salts of unknown users. */
const FAKE_SALT_KEY = randomBytes(32)

function fakeCredentials(algorithm: ScramAlgorithm, username: string, iterations: number): ScramCredentials {
  const salt = createHmac('sha256', FAKE_SALT_KEY).update(`${algorithm}\0${username}`).digest().subarray(0, 16)
  const size = algorithm === 'sha256' ? 32 : 64
  return {kind: 'scram', algorithm, iterations, salt, storedKey: randomBytes(size), serverKey: randomBytes(size)}
}

function refuse(reason: string, reasonCode: number = ReasonCode.BadUserNameOrPassword): EnhancedStep {
  return {done: true, result: {ok: false, reasonCode, reason}}
}

export interface ScramServerOptions {
  algorithm: ScramAlgorithm
  lookup: ScramLookup
  /** The authenticator's id, put in the principal's attributes. */
  authenticator: string
  /** The user name the client must authenticate as (CONNECT's, or the one of the first authentication on re-authentication). */
  expectUser?: string
  /** Iterations announced for unknown users (what most users have). */
  fakeIterations?: number
}

export class ScramServerExchange implements EnhancedAuth {
  readonly method: string
  private stage: 'first' | 'final' | 'done' = 'first'
  private gs2Header = ''
  private clientFirstBare = ''
  private serverFirst = ''
  private nonce = ''
  private username = ''
  private credentials: ScramCredentials | undefined
  private known = false

  constructor(private readonly o: ScramServerOptions) {
    this.method = SCRAM_METHODS[o.algorithm]
  }

  step(data: Buffer | undefined): Promise<EnhancedStep> {
    try {
      if (this.stage === 'first') return Promise.resolve(this.first(data))
      if (this.stage === 'final') return Promise.resolve(this.final(data))
      return Promise.resolve(refuse('the SCRAM exchange is over', ReasonCode.ProtocolError))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private first(data: Buffer | undefined): EnhancedStep {
    this.stage = 'done'
    if (data === undefined || data.length === 0) return refuse(`${this.method} needs the client-first-message in the CONNECT's Authentication Data`, ReasonCode.ProtocolError)
    const text = data.toString('utf8')
    // gs2-header: "n,," / "y,," (no channel binding), optionally with "a=authzid".
    const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/s.exec(text)
    if (m === null) return refuse('the SCRAM client-first-message is malformed (expected "n,,n=USER,r=NONCE")', ReasonCode.ProtocolError)
    if (m[1].startsWith('p=')) return refuse('SCRAM channel binding (-PLUS) is not supported: use SCRAM-SHA-256 or SCRAM-SHA-512 without it', ReasonCode.BadAuthenticationMethod)
    const attrs = parseAttributes(m[3])
    const user = attrs?.get('n')
    const nonce = attrs?.get('r')
    if (attrs === undefined || user === undefined || nonce === undefined || [...attrs.keys()][0] !== 'n' || [...attrs.keys()][1] !== 'r') {
      return refuse('the SCRAM client-first-message is malformed (expected "n,,n=USER,r=NONCE")', ReasonCode.ProtocolError)
    }
    if (attrs.has('m')) return refuse('SCRAM mandatory extensions (m=) are not supported', ReasonCode.ProtocolError)
    const username = decodeSaslName(user)
    if (username === undefined || username === '') return refuse('the SCRAM user name is empty or badly escaped', ReasonCode.BadUserNameOrPassword)
    if (m[2] !== undefined && decodeSaslName(m[2].slice(2)) !== username && m[2] !== 'a=') {
      return refuse('a SCRAM authorization identity (a=) other than the user is not supported', ReasonCode.NotAuthorized)
    }
    if (!NONCE.test(nonce)) return refuse('the SCRAM client nonce has characters it may not have', ReasonCode.ProtocolError)
    if (this.o.expectUser !== undefined && username !== this.o.expectUser) {
      return refuse(`the SCRAM user "${username}" is not the CONNECT's user name "${this.o.expectUser}"`, ReasonCode.BadUserNameOrPassword)
    }
    const known = this.o.lookup(username, this.o.algorithm)
    this.known = known !== undefined
    this.credentials = known ?? fakeCredentials(this.o.algorithm, username, this.o.fakeIterations ?? SCRAM_DEFAULT_ITERATIONS[this.o.algorithm])
    this.username = username
    this.gs2Header = text.slice(0, text.length - m[3].length)
    this.clientFirstBare = m[3]
    this.nonce = nonce + newNonce()
    this.serverFirst = `r=${this.nonce},s=${this.credentials.salt.toString('base64')},i=${this.credentials.iterations}`
    this.stage = 'final'
    return {done: false, data: Buffer.from(this.serverFirst)}
  }

  private final(data: Buffer | undefined): EnhancedStep {
    this.stage = 'done'
    const text = data?.toString('utf8') ?? ''
    const proofAt = text.lastIndexOf(',p=')
    const attrs = proofAt > 0 ? parseAttributes(text) : undefined
    const c = attrs?.get('c')
    const r = attrs?.get('r')
    const p = attrs?.get('p')
    if (attrs === undefined || c === undefined || r === undefined || p === undefined) {
      return refuse('the SCRAM client-final-message is malformed (expected "c=…,r=…,p=…")', ReasonCode.ProtocolError)
    }
    if (Buffer.from(c, 'base64').toString('utf8') !== this.gs2Header) return refuse('the SCRAM channel-binding attribute (c=) does not repeat the gs2 header', ReasonCode.ProtocolError)
    if (r !== this.nonce) return refuse('the SCRAM nonce of the client-final-message is not the one agreed', ReasonCode.ProtocolError)
    const cred = this.credentials!
    const proof = Buffer.from(p, 'base64')
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${text.slice(0, proofAt)}`
    const sig = signatures(cred.algorithm, cred.storedKey, cred.serverKey, authMessage)
    // ClientKey = ClientProof XOR ClientSignature; the user knows the password when H(ClientKey) = StoredKey.
    const ok = proof.length === sig.client.length && timingSafeEqual(hash(cred.algorithm, xor(proof, sig.client)), cred.storedKey) && this.known
    if (!ok) return refuse('bad user name or password')
    return {
      done: true,
      result: {ok: true, principal: {username: this.username, attributes: {authenticator: this.o.authenticator, method: this.method}}},
      data: Buffer.from(`v=${sig.server.toString('base64')}`),
    }
  }
}
