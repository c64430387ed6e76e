/**
 * The client's side of SCRAM (RFC 5802 §3, §5) for MQTT 5 enhanced authentication: the
 * client-first-message for CONNECT, the client-final-message for the server's AUTH 0x18, and
 * the check of the server's signature in CONNACK (a server that does not know the
 * credentials cannot make it). Used by MqttClient (src/core/client) when asked for
 * authMethod SCRAM-SHA-256 or SCRAM-SHA-512.
 */
import {timingSafeEqual} from 'node:crypto'
import type {ScramAlgorithm} from './scram.js'
import {NONCE, SCRAM_MAX_ITERATIONS, SCRAM_METHODS, encodeSaslName, hmac, keysOf, newNonce, parseAttributes, saltedPassword, xor} from './scram.js'

const GS2_HEADER = 'n,,'

export class ScramClient {
  readonly method: string
  private readonly clientFirstBare: string
  private serverSignature: Buffer | undefined

  constructor(
    readonly algorithm: ScramAlgorithm,
    username: string,
    private readonly password: Buffer,
    private readonly clientNonce: string = newNonce(),
  ) {
    this.method = SCRAM_METHODS[algorithm]
    this.clientFirstBare = `n=${encodeSaslName(username)},r=${clientNonce}`
  }

  /** client-first-message (the CONNECT's Authentication Data). */
  first(): Buffer {
    return Buffer.from(GS2_HEADER + this.clientFirstBare)
  }

  /** client-final-message for the server-first-message; throws when the server's message is not valid. */
  async final(serverFirst: Buffer | undefined): Promise<Buffer> {
    const text = serverFirst?.toString('utf8') ?? ''
    const attrs = parseAttributes(text)
    const nonce = attrs?.get('r')
    const salt = attrs?.get('s')
    const it = attrs?.get('i')
    if (attrs === undefined || nonce === undefined || salt === undefined || it === undefined) {
      throw new Error(`the server's SCRAM message is not a server-first-message (r=…,s=…,i=…): "${text.slice(0, 80)}"`)
    }
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length || !NONCE.test(nonce)) throw new Error("the server's SCRAM nonce does not extend ours")
    const iterations = Number(it)
    if (!/^\d+$/.test(it) || iterations < 1 || iterations > SCRAM_MAX_ITERATIONS) throw new Error(`the server asks for ${it} SCRAM iterations: expected 1 to ${SCRAM_MAX_ITERATIONS}`)
    const salted = await saltedPassword(this.algorithm, this.password, Buffer.from(salt, 'base64'), iterations)
    const {clientKey, storedKey, serverKey} = keysOf(this.algorithm, salted)
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`
    const proof = xor(clientKey, hmac(this.algorithm, storedKey, authMessage))
    this.serverSignature = hmac(this.algorithm, serverKey, authMessage)
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)
  }

  /** Checks the server-final-message (CONNACK's Authentication Data): a problem, or undefined when the server proved it knows the credentials. */
  verifyServer(serverFinal: Buffer | undefined): string | undefined {
    if (this.serverSignature === undefined) return 'the server accepted us before the SCRAM exchange was complete'
    const text = serverFinal?.toString('utf8') ?? ''
    const attrs = parseAttributes(text)
    const error = attrs?.get('e')
    if (error !== undefined) return `the server's SCRAM error: ${error}`
    const v = attrs?.get('v')
    if (v === undefined) return "the server sent no SCRAM signature (v=…): it did not prove that it knows the user's credentials"
    const got = Buffer.from(v, 'base64')
    if (got.length !== this.serverSignature.length || !timingSafeEqual(got, this.serverSignature)) {
      return "the server's SCRAM signature is wrong: it does not hold this user's credentials (a man in the middle?)"
    }
    return undefined
  }
}
