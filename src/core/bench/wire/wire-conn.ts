/**
 * A bare MQTT connection for the bench's load loops: TCP or TLS, and for ws/wss the
 * WebSocket handshake and framing done here (transport/ws-handshake.ts, ws-frame.ts). Setup packets (CONNECT,
 * SUBSCRIBE, DISCONNECT) go through the codec; after that the owner writes pre-built
 * bytes and reads packets through its own PacketSink, one scan and no object per packet.
 */
import {randomBytes} from 'node:crypto'
import type {Duplex} from 'node:stream'
import {encode} from '../../protocol/codec.js'
import type {ProtocolVersion, QoS} from '../../protocol/codec.js'
import {describeReasonCode} from '../../protocol/reason-codes.js'
import {handshakeError} from '../../transport/dial-errors.js'
import {dialSocket} from '../../transport/dial-socket.js'
import {DEFAULT_PORTS, schemeOf} from '../../transport/schemes.js'
import type {DialTls} from '../../transport/types.js'
import type {WireCounter} from '../../transport/wire-counter.js'
import {ProtocolError, RefusedError, TimeoutError, TransportError} from '../../errors.js'
import {Opcode, maskedFrame} from '../../transport/ws-frame.js'
import {acceptKey, readResponseHead, upgradeRequest} from '../../transport/ws-handshake.js'
import {ServerFrameReader} from './server-frame-reader.js'
import type {FrameSink} from './server-frame-reader.js'
import {PacketScanner, skipVarSized} from './packet-scanner.js'
import type {PacketSink} from './packet-scanner.js'

/** MQTT 3.1/3.1.1 CONNACK return codes (MQTT 5 reason codes have their own names). */
const V3_CONNACK: Record<number, string> = {1: 'unacceptable protocol version', 2: 'client identifier rejected', 3: 'server unavailable', 4: 'bad user name or password', 5: 'not authorized'}

const SETUP_TIMEOUT_MS = 10_000
const MAX_HANDSHAKE_BYTES = 16 * 1024

export interface WireConnOptions {
  url: string
  clientId: string
  protocolVersion: ProtocolVersion
  tls?: DialTls
  username?: string
  password?: string
  /** Keep a persistent session for this many seconds (3.1.1: clean session 0); absent or 0: a clean session. */
  sessionExpiry?: number
  /** MQTT 5: the Topic Alias Maximum this client announces (0 or absent: none, the broker sends every topic). */
  topicAliasMaximum?: number
}

export class WireConn implements FrameSink, PacketSink {
  /** WebSocket framing (ws://, wss://) rather than bare MQTT. */
  readonly ws: boolean
  /**
   * The mask key (big-endian u32). The generator reuses one key per connection: fresh keys
   * only protect HTTP proxies from cache poisoning, which loopback has none of, and the
   * broker still unmasks every byte as it would for a browser.
   */
  readonly key = randomBytes(4).readUInt32BE(0)
  connected = true
  /** Receives every packet once setup is over. */
  handler: PacketSink | undefined
  /** When the chunk being parsed was read (process.hrtime, ns): one clock read per chunk, not per packet. */
  readAtNs = 0
  /** Why the connection ended, when it did not end by our DISCONNECT. */
  closeReason: string | undefined
  private readonly frames: ServerFrameReader | undefined
  private readonly scanner = new PacketScanner(this)
  private waiter: {type: number; resolve: (p: Buffer) => void; reject: (e: Error) => void} | undefined
  private readonly onSocketData = (chunk: Buffer): void => this.receive(chunk)

  private constructor(
    readonly socket: Duplex,
    readonly counter: WireCounter,
    readonly options: WireConnOptions,
    ws: boolean,
    leftover: Buffer | undefined,
  ) {
    this.ws = ws
    this.frames = ws ? new ServerFrameReader(this) : undefined
    socket.on('data', this.onSocketData)
    socket.on('error', (e: Error) => this.lost(e.message))
    socket.on('close', () => this.lost('the broker closed the connection'))
    if (leftover && leftover.length > 0) this.receive(leftover)
  }

  /** Dials, upgrades (ws/wss), sends CONNECT and waits for a successful CONNACK. */
  static async open(options: WireConnOptions): Promise<WireConn> {
    const url = new URL(options.url)
    const scheme = schemeOf(url)
    const ws = scheme === 'ws' || scheme === 'wss'
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost'
    const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port)
    const dialed = await dialSocket(scheme === 'wss' || scheme === 'mqtts' ? 'mqtts' : 'mqtt', host, port, {tls: options.tls, countTlsBytes: true}, SETUP_TIMEOUT_MS, url.href)
    let leftover: Buffer | undefined
    try {
      if (ws) leftover = await upgrade(dialed.stream, url, `${host}:${port}`)
    } catch (error) {
      dialed.stream.destroy()
      throw error
    }
    const conn = new WireConn(dialed.stream, dialed.socket, options, ws, leftover)
    try {
      await conn.connect()
    } catch (error) {
      conn.socket.destroy()
      throw error
    }
    return conn
  }

  private async connect(): Promise<void> {
    const v = this.options.protocolVersion
    const connack = this.expect(0x20, 'CONNACK')
    const expiry = this.options.sessionExpiry ?? 0
    const aliasMax = this.options.topicAliasMaximum ?? 0
    const properties = v === 5 && (expiry > 0 || aliasMax > 0) ? {...(expiry > 0 ? {sessionExpiryInterval: expiry} : {}), ...(aliasMax > 0 ? {topicAliasMaximum: aliasMax} : {})} : undefined
    const {username, password} = this.options
    this.send(
      encode(
        {
          cmd: 'connect',
          protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
          protocolVersion: v,
          clientId: this.options.clientId,
          clean: expiry === 0,
          keepalive: 0,
          properties,
          ...(username === undefined ? {} : {username}),
          ...(password === undefined ? {} : {password: Buffer.from(password)}),
        },
        v,
      ),
    )
    const p = await connack
    const code = p[3]
    if (code !== 0) {
      const what = v === 5 ? `${describeReasonCode(code)} (0x${code.toString(16)})` : `return code ${code} (${V3_CONNACK[code] ?? 'unknown'})`
      throw new RefusedError(`${this.options.url}: the broker refused the connection: ${what}`, {reasonCode: code})
    }
  }

  /** Subscribes to one filter; resolves with the granted QoS or rejects with the reason. */
  async subscribe(topic: string, qos: QoS): Promise<number> {
    const v = this.options.protocolVersion
    const suback = this.expect(0x90, 'SUBACK')
    this.send(encode({cmd: 'subscribe', messageId: 1, subscriptions: [{topic, qos}]}, v))
    const p = await suback
    // Fixed header (2), packet id (2), MQTT 5 properties (length, then that many), codes.
    const code = p[v === 5 ? skipVarSized(p, 4) : 4]
    if (code >= 0x80) throw new RefusedError(`${this.options.url}: the broker refused the subscription to ${topic}: ${describeReasonCode(code)} (0x${code.toString(16)})`, {reasonCode: code})
    return code
  }

  /** Writes one encoded packet (framed on WebSocket). */
  send(packet: Buffer): void {
    this.socket.write(this.ws ? maskedFrame(Opcode.Binary, packet, this.key) : packet)
  }

  /** PUBACK, PUBREC, PUBREL or PUBCOMP for `packetId`. */
  sendAck(type: number, packetId: number): void {
    const packet = Buffer.allocUnsafe(4)
    packet[0] = type
    packet[1] = 2
    packet[2] = packetId >> 8
    packet[3] = packetId & 0xff
    this.send(packet)
  }

  /** Writes bytes the caller framed itself (see publisher templates). */
  write(bytes: Buffer): boolean {
    return this.socket.write(bytes)
  }

  get bytesWritten(): number {
    return this.counter.bytesWritten
  }

  get bytesRead(): number {
    return this.counter.bytesRead
  }

  get writableNeedDrain(): boolean {
    return this.socket.writableNeedDrain
  }

  /** DISCONNECT, then close; resolves when the socket is gone (at most 2 s). */
  end(): Promise<void> {
    if (!this.connected) return Promise.resolve()
    this.connected = false
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy()
        resolve()
      }, 2000)
      this.socket.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      this.send(Buffer.from([0xe0, 0x00]))
      this.socket.end()
    })
  }

  // --- receive path

  private receive(chunk: Buffer): void {
    this.readAtNs = Number(process.hrtime.bigint())
    // Acknowledgements written while this chunk is read leave in one write.
    this.socket.cork()
    try {
      if (this.frames) this.frames.feed(chunk)
      else this.scanner.feed(chunk, 0, chunk.length)
    } catch (error) {
      this.lost((error as Error).message)
      this.socket.destroy()
    } finally {
      this.socket.uncork()
    }
  }

  onData(buf: Buffer, start: number, end: number): void {
    this.scanner.feed(buf, start, end)
  }

  onPing(payload: Buffer): void {
    this.socket.write(maskedFrame(Opcode.Pong, payload, this.key))
  }

  onClose(code: number, reason: string): void {
    this.lost(`the broker closed the WebSocket (${code}${reason ? ` ${reason}` : ''})`)
    this.socket.end()
  }

  onPacket(buf: Buffer, start: number, body: number, end: number): void {
    const w = this.waiter
    if (w && (buf[start] & 0xf0) === w.type) {
      this.waiter = undefined
      w.resolve(Buffer.from(buf.subarray(start, end)))
      return
    }
    this.handler?.onPacket(buf, start, body, end)
  }

  private expect(type: number, name: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined
        reject(new TimeoutError(`${this.options.url}: no ${name} within ${SETUP_TIMEOUT_MS} ms`))
      }, SETUP_TIMEOUT_MS)
      this.waiter = {
        type,
        resolve: (p) => {
          clearTimeout(timer)
          resolve(p)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      }
    })
  }

  private lost(reason: string): void {
    if (!this.connected) return
    this.connected = false
    this.closeReason = reason
    const w = this.waiter
    this.waiter = undefined
    // Closed before CONNACK: most often the wrong port or scheme for this broker.
    const hint = w?.type === 0x20 ? ' before CONNACK: check the protocol version (-V) and the scheme (ws:// for a WebSocket port, mqtts:// or wss:// for a TLS port)' : ''
    w?.reject(new TransportError(`${this.options.url}: ${reason}${hint}`))
  }
}

/**
 * The client side of the WebSocket opening handshake, subprotocol "mqtt". Resolves with
 * the bytes that followed the response headers (the first frames, if any).
 */
function upgrade(socket: Duplex, url: URL, hostHeader: string): Promise<Buffer> {
  const key = randomBytes(16).toString('base64')
  const path = (url.pathname === '/' ? '/mqtt' : url.pathname) + url.search
  const where = url.href
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0)
    const timer = setTimeout(() => done(new TimeoutError(`${where}: WebSocket handshake timed out after ${SETUP_TIMEOUT_MS} ms`)), SETUP_TIMEOUT_MS)
    const done = (error: Error | undefined, rest?: Buffer): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onClose)
      if (error) reject(error)
      else resolve(rest!)
    }
    const onClose = (): void => done(new TransportError(`${where}: the server closed the connection during the WebSocket handshake: is this a plain MQTT port (use mqtt://)?`))
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const res = readResponseHead(head)
      if (res === undefined) {
        if (head.length > MAX_HANDSHAKE_BYTES) done(new ProtocolError(`${where}: the handshake response has no end: not a WebSocket endpoint?`))
        return
      }
      if (res === null) return done(new ProtocolError(`${where}: the server did not answer with HTTP: is this an MQTT TCP port? use mqtt:// for it`))
      const {status, headers, end} = res
      if (status !== 101) return done(handshakeError(where, status, head.subarray(end).toString('utf8').trim(), ['mqtt']))
      if (headers.get('sec-websocket-accept') !== acceptKey(key)) return done(new ProtocolError(`${where}: wrong Sec-WebSocket-Accept in the handshake response`))
      if (headers.get('sec-websocket-protocol') !== 'mqtt') {
        return done(new ProtocolError(`${where}: the server did not accept subprotocol mqtt (it answered ${headers.get('sec-websocket-protocol') ?? 'none'})`))
      }
      done(undefined, head.subarray(end))
    }
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.write(upgradeRequest(path, hostHeader, key, ['mqtt']))
  })
}
