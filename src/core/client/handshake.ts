/**
 * The CONNECT exchange of one MqttClient: CONNECT out, with MQTT 5 enhanced authentication
 * (SCRAM) one AUTH round trip, then CONNACK in, all within one time budget. It ends at the
 * CONNACK: accepted (the client takes over), or refused or timed out (the connection is
 * destroyed and `done` rejects with an error that says what to do).
 */
import type {Duplex} from 'node:stream'
import {ScramClient} from '../auth/scram-client.js'
import {scramAlgorithmOf} from '../auth/scram.js'
import {AuthError, ErrorCode, MqttwsError, TimeoutError, TransportError} from '../errors.js'
import {encode} from '../protocol/codec.js'
import type {IConnackPacket, IConnectPacket, Packet, ProtocolVersion} from '../protocol/codec.js'
import {connackError} from './refusals.js'
import {describeOutgoing} from './trace.js'
import type {ClientOptions} from './types.js'

/** What the exchange needs of its client. */
export interface HandshakeLink {
  readonly url: string
  readonly version: ProtocolVersion
  readonly stream: Duplex
  readonly closed: boolean
  destroy(error?: Error): void
}

export class Handshake {
  /** Resolves once CONNACK accepted the connection; rejects otherwise. */
  readonly done: Promise<void>
  /** Milliseconds from writing CONNECT to CONNACK: the broker's authentication and session set-up. */
  ms = 0
  private readonly timer: NodeJS.Timeout
  /** The SCRAM exchange of the CONNECT (authMethod), until CONNACK. */
  private scram: ScramClient | undefined
  private sentAt = 0
  private resolve!: () => void
  private reject!: (error: Error) => void

  /** Writes CONNECT; the client passes on the CONNACK and AUTH it receives, and its close. */
  constructor(
    private readonly link: HandshakeLink,
    options: ClientOptions,
    clientId: string,
    timeoutMs: number,
  ) {
    const v = link.version
    const packet = connectPacket(options, v, clientId)
    if (options.authMethod !== undefined) this.scram = startScram(options, packet)
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    this.timer = setTimeout(() => {
      link.destroy()
      this.reject(new TimeoutError(`${link.url}: no CONNACK within ${timeoutMs} ms: is this an MQTT broker?`))
    }, timeoutMs)
    this.sentAt = Number(process.hrtime.bigint()) / 1e6
    const bytes = encode(packet, v)
    if (options.trace !== undefined) options.trace(describeOutgoing(bytes, v))
    link.stream.write(bytes)
  }

  /** True when the CONNACK accepts the connection (the client then takes its properties); otherwise the connection is destroyed and `done` rejects. */
  onConnack(connack: IConnackPacket): boolean {
    clearTimeout(this.timer)
    this.ms = Number(process.hrtime.bigint()) / 1e6 - this.sentAt
    const {url, version} = this.link
    const code = version === 5 ? (connack.reasonCode ?? 0) : (connack.returnCode ?? 0)
    if (code !== 0) return this.fail(connackError(url, version, code, connack.properties?.reasonString))
    const problem = this.scram?.verifyServer(connack.properties?.authenticationData)
    this.scram = undefined
    if (problem !== undefined) return this.fail(new AuthError(`${url}: ${problem}`))
    this.resolve()
    return true
  }

  /** The server's AUTH 0x18 during the SCRAM exchange: answers with the client-final-message. False: an AUTH this exchange does not expect. */
  onAuth(packet: Packet & {cmd: 'auth'}): boolean {
    const scram = this.scram
    if (scram === undefined || packet.reasonCode !== 0x18 || packet.properties?.authenticationMethod !== scram.method) return false
    const link = this.link
    scram.final(packet.properties?.authenticationData).then(
      (data) => {
        if (link.closed) return
        link.stream.write(encode({cmd: 'auth', reasonCode: 0x18, properties: {authenticationMethod: scram.method, authenticationData: data}}, link.version))
      },
      (error: Error) => link.destroy(new AuthError(`${link.url}: ${error.message}`)),
    )
    return true
  }

  /** The connection closed before CONNACK (`error`: why, if known). */
  onClose(error: Error | undefined): void {
    clearTimeout(this.timer)
    this.reject(error ?? new TransportError(`${this.link.url}: the connection was closed before CONNACK`))
  }

  private fail(error: Error): false {
    this.link.destroy()
    this.reject(error)
    return false
  }
}

/** What SCRAM needs, checked before dialing. */
export function checkAuthMethod(options: ClientOptions): void {
  const m = options.authMethod
  if (scramAlgorithmOf(m!) === undefined) throw new MqttwsError(ErrorCode.CONFIG, `authentication method "${m}" is not supported: use SCRAM-SHA-256 or SCRAM-SHA-512`)
  if ((options.protocolVersion ?? 5) !== 5) throw new MqttwsError(ErrorCode.CONFIG, `${m} is MQTT 5 enhanced authentication: use -V 5`)
  if (options.username === undefined || options.password === undefined) throw new MqttwsError(ErrorCode.CONFIG, `${m} needs a user name and a password (-u and -P, or --password-file/--password-env)`)
}

/** The CONNECT packet of the options (`clientId`: the client's, a 3.1 client's generated one included). */
function connectPacket(options: ClientOptions, v: ProtocolVersion, clientId: string): IConnectPacket {
  const packet: IConnectPacket = {
    cmd: 'connect',
    protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: v,
    clean: options.clean ?? true,
    clientId,
    keepalive: options.keepalive ?? 60,
  }
  if (options.username !== undefined) packet.username = options.username
  if (options.password !== undefined) packet.password = Buffer.isBuffer(options.password) ? options.password : Buffer.from(options.password)
  if (options.will) {
    const w = options.will
    packet.will = {topic: w.topic, payload: Buffer.isBuffer(w.payload) ? w.payload : Buffer.from(w.payload), qos: w.qos ?? 0, retain: w.retain ?? false}
    if (v === 5 && w.properties) packet.will.properties = w.properties
  }
  if (v === 5 && options.properties) packet.properties = options.properties
  return packet
}

/** SCRAM (authMethod): the client-first-message goes in CONNECT instead of the password. */
function startScram(options: ClientOptions, packet: IConnectPacket): ScramClient {
  const scram = new ScramClient(scramAlgorithmOf(options.authMethod!)!, options.username!, Buffer.isBuffer(options.password) ? options.password : Buffer.from(options.password!))
  packet.password = undefined
  packet.properties = {...packet.properties, authenticationMethod: scram.method, authenticationData: scram.first()}
  return scram
}
