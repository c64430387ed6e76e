/**
 * SCRAM for MQTT.js in tests, written from RFC 5802 with node:crypto alone (not the broker's
 * code): the client-first-message for CONNECT and MQTT.js's handleAuth for the server's AUTH.
 */
import {createHash, createHmac, pbkdf2Sync, randomBytes} from 'node:crypto'
import type {IClientOptions, MqttClient} from 'mqtt'

export interface ScramTestClient {
  options: IClientOptions
  /** Installs handleAuth on the MQTT.js client (before it connects: mqtt.connect with manualConnect, or right after). */
  attach(client: MqttClient): void
  /** The ServerSignature the server must send in CONNACK (v=…), known once the client-final-message is made. */
  expectedServerFinal(): string | undefined
}

export function scramTestClient(method: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', username: string, password: string, opts: {proof?: 'wrong'; stall?: boolean} = {}): ScramTestClient {
  const alg = method === 'SCRAM-SHA-256' ? 'sha256' : 'sha512'
  const nonce = randomBytes(12).toString('base64')
  const bare = `n=${username},r=${nonce}`
  let serverFinal: string | undefined
  return {
    options: {protocolVersion: 5, properties: {authenticationMethod: method, authenticationData: Buffer.from(`n,,${bare}`)}},
    expectedServerFinal: () => serverFinal,
    attach(client) {
      client.handleAuth = (packet, callback) => {
        if (opts.stall) return
        const serverFirst = packet.properties?.authenticationData?.toString() ?? ''
        const a = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]))
        const salted = pbkdf2Sync(Buffer.from(password), Buffer.from(a.s, 'base64'), Number(a.i), alg === 'sha256' ? 32 : 64, alg)
        const clientKey = createHmac(alg, salted).update('Client Key').digest()
        const storedKey = createHash(alg).update(clientKey).digest()
        const withoutProof = `c=biws,r=${a.r}`
        const authMessage = `${bare},${serverFirst},${withoutProof}`
        const signature = createHmac(alg, storedKey).update(authMessage).digest()
        const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]))
        if (opts.proof === 'wrong') proof[0] ^= 1
        serverFinal = `v=${createHmac(alg, createHmac(alg, salted).update('Server Key').digest()).update(authMessage).digest('base64')}`
        callback(undefined, {cmd: 'auth', reasonCode: 0x18, properties: {authenticationMethod: method, authenticationData: Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)}})
      }
    },
  }
}
