/**
 * A minimal WebSocket client written straight on net.Socket / tls.TLSSocket, for tests
 * that must see the wire: the HTTP upgrade is done by hand (Sec-WebSocket-Key, accept
 * check), client frames are masked by hand, and every server frame is reported with its
 * opcode, FIN bit, header length and payload. No WebSocket library sits in between, so
 * fragmentation or extra frames cannot be hidden.
 *
 * Also: raw HTTP exchanges (for refused handshakes) and a few hand-built MQTT 3.1.1
 * packets, independent of mqtt-packet.
 */
import {createHash, randomBytes} from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import {testCertificate} from './certs.js'
import {varint} from './raw.js'

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const DEFAULT_WAIT_MS = 5000

// ---- frames ---------------------------------------------------------------------------

export interface WireFrame {
  fin: boolean
  /** RSV1..3 as a 3-bit number (0 unless an extension is in use). */
  rsv: number
  opcode: number
  masked: boolean
  /** Bytes before the payload: 2, 4 or 10, plus 4 when masked. */
  headerLength: number
  /** Unmasked payload. */
  payload: Buffer
  /** headerLength + payload length: what this frame cost on the wire. */
  wireLength: number
}

export interface FrameOptions {
  fin?: boolean
  /** Client frames must be masked (RFC 6455 §5.1); false only to test a server's reaction. */
  mask?: boolean
  /** Fixed masking key, for reproducible bytes. */
  maskKey?: Buffer
  rsv?: number
}

/** Encodes one frame. Client-to-server frames are masked unless told otherwise. */
export function encodeFrame(opcode: number, payload: Buffer, options: FrameOptions = {}): Buffer {
  const fin = options.fin ?? true
  const mask = options.mask ?? true
  const len = payload.length
  const lenBytes = len < 126 ? 0 : len < 0x10000 ? 2 : 8
  const header = Buffer.alloc(2 + lenBytes + (mask ? 4 : 0))
  header[0] = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode
  header[1] = (mask ? 0x80 : 0) | (lenBytes === 0 ? len : lenBytes === 2 ? 126 : 127)
  if (lenBytes === 2) header.writeUInt16BE(len, 2)
  else if (lenBytes === 8) header.writeBigUInt64BE(BigInt(len), 2)
  if (!mask) return Buffer.concat([header, payload])
  const key = options.maskKey ?? randomBytes(4)
  key.copy(header, 2 + lenBytes)
  const body = Buffer.allocUnsafe(len)
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ key[i & 3]
  return Buffer.concat([header, body])
}

/** Incremental frame parser: feed it socket chunks in any split, get whole frames out. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0)

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.buf.length
  }

  push(chunk: Buffer): WireFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const out: WireFrame[] = []
    // Each iteration consumes one whole frame or stops: bounded by the buffer length.
    for (;;) {
      const frame = this.next()
      if (frame === undefined) return out
      out.push(frame)
    }
  }

  private next(): WireFrame | undefined {
    const b = this.buf
    if (b.length < 2) return undefined
    const fin = (b[0] & 0x80) !== 0
    const rsv = (b[0] >> 4) & 0x07
    const opcode = b[0] & 0x0f
    const masked = (b[1] & 0x80) !== 0
    const len7 = b[1] & 0x7f
    let off = 2
    let len = len7
    if (len7 === 126) {
      if (b.length < 4) return undefined
      len = b.readUInt16BE(2)
      off = 4
    } else if (len7 === 127) {
      if (b.length < 10) return undefined
      len = Number(b.readBigUInt64BE(2))
      off = 10
    }
    let key: Buffer | undefined
    if (masked) {
      if (b.length < off + 4) return undefined
      key = b.subarray(off, off + 4)
      off += 4
    }
    if (b.length < off + len) return undefined
    const payload = Buffer.from(b.subarray(off, off + len))
    if (key) for (let i = 0; i < len; i++) payload[i] ^= key[i & 3]
    this.buf = b.subarray(off + len)
    return {fin, rsv, opcode, masked, headerLength: off, payload, wireLength: off + len}
  }
}

// ---- sockets and HTTP -------------------------------------------------------------------

export interface Endpoint {
  port: number
  /** wss:// (TLS with the test certificate) instead of ws:// */
  tls?: boolean
}

/** Opens a TCP or TLS socket to 127.0.0.1 and resolves once it is ready for bytes. */
export async function openSocket(ep: Endpoint): Promise<net.Socket> {
  const cert = await testCertificate()
  const socket = ep.tls
    ? tls.connect({port: ep.port, host: '127.0.0.1', ca: cert.cert, servername: 'localhost'})
    : net.connect(ep.port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once(ep.tls ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject)
      resolve()
    })
    socket.once('error', reject)
  })
  socket.setNoDelay(true)
  return socket
}

export interface HttpResponse {
  status: number
  statusText: string
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>
  /** Everything after the blank line (for 101: bytes that arrived with the head). */
  body: Buffer
}

function parseHead(head: string): Omit<HttpResponse, 'body'> {
  const lines = head.split('\r\n')
  const m = /^HTTP\/1\.1 (\d{3}) ?(.*)$/.exec(lines[0])
  if (!m) throw new Error(`not an HTTP/1.1 status line: ${JSON.stringify(lines[0])}`)
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':')
    if (i <= 0) throw new Error(`bad header line: ${JSON.stringify(line)}`)
    const name = line.slice(0, i).trim().toLowerCase()
    const value = line.slice(i + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  return {status: Number(m[1]), statusText: m[2], headers}
}

/**
 * Reads one HTTP response head from a socket. Resolves with the parsed head and the bytes
 * that followed it in the same reads (leaving the socket's 'data' listener removed).
 */
function readHead(socket: net.Socket, timeoutMs: number): Promise<{head: Omit<HttpResponse, 'body'>; rest: Buffer}> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const done = (error: Error | undefined, value?: {head: Omit<HttpResponse, 'body'>; rest: Buffer}): void => {
      clearTimeout(timer)
      // Hold further bytes until the next reader is attached.
      socket.pause()
      socket.off('data', onData)
      socket.off('close', onClose)
      socket.off('error', onError)
      if (error) reject(error)
      else resolve(value!)
    }
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d])
      const end = buf.indexOf('\r\n\r\n')
      if (end === -1) return
      try {
        done(undefined, {head: parseHead(buf.subarray(0, end).toString('latin1')), rest: buf.subarray(end + 4)})
      } catch (error) {
        done(error as Error)
      }
    }
    const onClose = (): void => done(new Error(`socket closed before a complete HTTP response head; got ${JSON.stringify(buf.toString('latin1'))}`))
    const onError = (error: Error): void => done(error)
    const timer = setTimeout(() => done(new Error(`no HTTP response head within ${timeoutMs} ms; got ${JSON.stringify(buf.toString('latin1'))}`)), timeoutMs)
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.once('error', onError)
  })
}

/** Decodes a complete chunked body; undefined while the last chunk has not arrived. */
export function decodeChunked(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = []
  let off = 0
  // Each iteration consumes one chunk: bounded by the buffer length.
  for (;;) {
    const eol = buf.indexOf('\r\n', off)
    if (eol === -1) return undefined
    const size = Number.parseInt(buf.subarray(off, eol).toString('latin1'), 16)
    if (!Number.isInteger(size) || size < 0) throw new Error(`bad chunk size line: ${JSON.stringify(buf.subarray(off, eol).toString('latin1'))}`)
    const start = eol + 2
    if (size === 0) return buf.length >= start + 2 ? Buffer.concat(parts) : undefined
    if (buf.length < start + size + 2) return undefined
    parts.push(buf.subarray(start, start + size))
    off = start + size + 2
  }
}

/** Reads the rest of a response body: Content-Length bytes, a chunked body, or up to the close. */
function readBody(socket: net.Socket, head: Omit<HttpResponse, 'body'>, first: Buffer, timeoutMs: number): Promise<Buffer> {
  const declared = head.headers['content-length'] === undefined ? undefined : Number(head.headers['content-length'])
  const chunked = /\bchunked\b/i.test(head.headers['transfer-encoding'] ?? '')
  const complete = (buf: Buffer): Buffer | undefined =>
    chunked ? decodeChunked(buf) : declared !== undefined && buf.length >= declared ? buf.subarray(0, declared) : undefined
  return new Promise((resolve, reject) => {
    let buf = first
    const ready = complete(buf)
    if (ready) return resolve(ready)
    const done = (error?: Error, body?: Buffer): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onClose)
      if (error) reject(error)
      else resolve(body!)
    }
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d])
      const body = complete(buf)
      if (body) done(undefined, body)
    }
    const onClose = (): void => {
      if (chunked || declared !== undefined) done(new Error(`body cut short: ${JSON.stringify(buf.toString('latin1'))}`))
      else done(undefined, buf)
    }
    const timer = setTimeout(() => done(new Error(`HTTP body not complete within ${timeoutMs} ms`)), timeoutMs)
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.resume()
  })
}

/** Sends raw request bytes and reads one complete response; the socket is destroyed afterwards. */
export async function httpExchange(ep: Endpoint, request: string | Buffer, timeoutMs = DEFAULT_WAIT_MS): Promise<HttpResponse> {
  const socket = await openSocket(ep)
  socket.on('error', () => {})
  try {
    const reading = readHead(socket, timeoutMs)
    socket.write(request)
    const {head, rest} = await reading
    const body = await readBody(socket, head, rest, timeoutMs)
    return {...head, body}
  } finally {
    socket.destroy()
  }
}

export interface UpgradeOptions extends Endpoint {
  /** Default /mqtt */
  path?: string
  /** The Sec-WebSocket-Protocol header value as sent; null leaves the header out. Default "mqtt". */
  protocol?: string | null
  /** Extra header lines, e.g. ["Origin: http://x"] */
  headers?: string[]
  /** Bytes sent in the same write as the request (frames pipelined behind the handshake). */
  pipelined?: Buffer
  timeoutMs?: number
}

/** The text of an upgrade request, with a fresh key. */
export function upgradeRequest(options: Omit<UpgradeOptions, 'port' | 'tls' | 'pipelined'> & {key?: string}): string {
  const key = options.key ?? randomBytes(16).toString('base64')
  const lines = [
    `GET ${options.path ?? '/mqtt'} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ]
  const protocol = options.protocol === undefined ? 'mqtt' : options.protocol
  if (protocol !== null) lines.push(`Sec-WebSocket-Protocol: ${protocol}`)
  lines.push(...(options.headers ?? []))
  return `${lines.join('\r\n')}\r\n\r\n`
}

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64')
}

/**
 * Sends an upgrade request and returns the server's answer. On 101 the answer carries an
 * open WireWs (check the accept key first); on anything else, the full response body.
 */
export async function tryUpgrade(options: UpgradeOptions): Promise<{response: HttpResponse; ws?: WireWs}> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS
  const socket = await openSocket(options)
  socket.on('error', () => {})
  const key = randomBytes(16).toString('base64')
  const reading = readHead(socket, timeoutMs)
  const request = Buffer.from(upgradeRequest({...options, key}), 'latin1')
  socket.write(options.pipelined ? Buffer.concat([request, options.pipelined]) : request)
  let head: Omit<HttpResponse, 'body'>
  let rest: Buffer
  try {
    ;({head, rest} = await reading)
  } catch (error) {
    socket.destroy()
    throw error
  }
  if (head.status !== 101) {
    try {
      const body = await readBody(socket, head, rest, timeoutMs)
      return {response: {...head, body}}
    } finally {
      socket.destroy()
    }
  }
  const accept = head.headers['sec-websocket-accept']
  if (accept !== acceptFor(key)) {
    socket.destroy()
    throw new Error(`bad Sec-WebSocket-Accept ${JSON.stringify(accept)}, expected ${acceptFor(key)}`)
  }
  return {response: {...head, body: Buffer.alloc(0)}, ws: new WireWs(socket, head, rest)}
}

/** Upgrades or throws (with the status and body) — for tests where refusal is not the point. */
export async function wireConnect(options: UpgradeOptions): Promise<WireWs> {
  const {response, ws} = await tryUpgrade(options)
  if (!ws) throw new Error(`upgrade refused: ${response.status} ${response.body.toString()}`)
  return ws
}

// ---- the client -------------------------------------------------------------------------

export interface WireClose {
  /** Close code from the server's close frame; undefined when none came (or it had no code). */
  code?: number
  reason: string
  /** Whether a close frame arrived before the socket closed. */
  closeFrameReceived: boolean
}

/** An open raw WebSocket. Frames received are kept in order; close frames are echoed. */
export class WireWs {
  readonly socket: net.Socket
  readonly handshake: Omit<HttpResponse, 'body'>
  /** Every frame received, in order, control frames included. */
  readonly frames: WireFrame[] = []
  /** Bytes received after the handshake head. */
  wireBytes = 0
  readonly closed: Promise<WireClose>
  private readonly parser = new FrameParser()
  private closeFrame: WireFrame | undefined
  private closeSent = false
  private socketClosed = false
  private readonly waiters = new Set<() => void>()

  constructor(socket: net.Socket, handshake: Omit<HttpResponse, 'body'>, rest: Buffer) {
    this.socket = socket
    this.handshake = handshake
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.socketClosed = true
        const f = this.closeFrame
        resolve({
          code: f && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined,
          reason: f && f.payload.length > 2 ? f.payload.subarray(2).toString('utf8') : '',
          closeFrameReceived: f !== undefined,
        })
        this.notify()
      })
    })
    socket.on('data', (d: Buffer) => this.onData(d))
    if (rest.length > 0) this.onData(rest)
    socket.resume()
  }

  /** The subprotocol the server echoed, if any. */
  get protocol(): string | undefined {
    return this.handshake.headers['sec-websocket-protocol']
  }

  /** Data frames (binary, text, continuation) only. */
  get dataFrames(): WireFrame[] {
    return this.frames.filter((f) => f.opcode < 0x8)
  }

  /** The payloads of all data frames, concatenated. */
  get dataBytes(): Buffer {
    return Buffer.concat(this.dataFrames.map((f) => f.payload))
  }

  /** Bytes received that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.parser.pending
  }

  private onData(d: Buffer): void {
    this.wireBytes += d.length
    for (const f of this.parser.push(d)) {
      this.frames.push(f)
      if (f.opcode === Opcode.Close && this.closeFrame === undefined) {
        this.closeFrame = f
        // Complete the closing handshake like a well-behaved client (RFC 6455 §5.5.1).
        if (!this.closeSent) {
          this.closeSent = true
          if (!this.socket.destroyed) this.socket.end(encodeFrame(Opcode.Close, f.payload.subarray(0, 2)))
        }
      } else if (f.opcode === Opcode.Ping && !this.closeSent && !this.socket.destroyed) {
        this.socket.write(encodeFrame(Opcode.Pong, f.payload))
      }
    }
    this.notify()
  }

  private notify(): void {
    for (const w of [...this.waiters]) w()
  }

  sendFrame(opcode: number, payload: Buffer, options?: FrameOptions): void {
    this.socket.write(encodeFrame(opcode, payload, options))
  }

  /** One binary frame. */
  sendBinary(payload: Buffer): void {
    this.sendFrame(Opcode.Binary, payload)
  }

  sendText(text: string): void {
    this.sendFrame(Opcode.Text, Buffer.from(text, 'utf8'))
  }

  /** Bytes exactly as given (several frames in one write, broken frames...). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** Resolves once `predicate` holds; rejects (describing what arrived) on timeout or close. */
  waitFor(what: string, predicate: () => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      if (predicate()) return resolve()
      if (this.socketClosed) return reject(new Error(`socket closed while waiting for ${what}; ${this.describe()}`))
      const check = (): void => {
        if (predicate()) {
          finish()
          resolve()
        } else if (this.socketClosed) {
          // Nothing more can arrive.
          finish()
          reject(new Error(`socket closed while waiting for ${what}; ${this.describe()}`))
        }
      }
      const finish = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`timed out waiting for ${what}; ${this.describe()}`))
      }, timeoutMs)
      this.waiters.add(check)
    })
  }

  /** Resolves when the socket has closed (with the server's close code); rejects after timeoutMs. */
  waitClosed(timeoutMs = DEFAULT_WAIT_MS): Promise<WireClose> {
    return this.waitFor('the socket to close', () => this.socketClosed, timeoutMs).then(() => this.closed)
  }

  /** Resolves when at least n data frames have arrived. */
  waitDataFrames(n: number, timeoutMs?: number): Promise<WireFrame[]> {
    return this.waitFor(`${n} data frames`, () => this.dataFrames.length >= n, timeoutMs).then(() => this.dataFrames)
  }

  /** Resolves when the data frames carry at least n payload bytes in total. */
  waitDataBytes(n: number, timeoutMs?: number): Promise<Buffer> {
    return this.waitFor(`${n} payload bytes`, () => this.dataBytes.length >= n, timeoutMs).then(() => this.dataBytes)
  }

  describe(): string {
    return `frames so far: ${this.frames.map((f) => `[op=${f.opcode} fin=${f.fin ? 1 : 0} hdr=${f.headerLength} ${f.payload.toString('hex')}]`).join(' ') || 'none'}`
  }

  /** A clean close (close frame 1000, then end); the socket is destroyed once the server answers. */
  close(): void {
    if (!this.closeSent && !this.socket.destroyed) {
      this.closeSent = true
      this.socket.end(encodeFrame(Opcode.Close, Buffer.from([0x03, 0xe8])))
    }
  }

  destroy(): void {
    this.socket.destroy()
  }
}

// ---- hand-built MQTT 3.1.1 packets --------------------------------------------------------

function str16(s: string): Buffer {
  const b = Buffer.from(s, 'utf8')
  const len = Buffer.alloc(2)
  len.writeUInt16BE(b.length)
  return Buffer.concat([len, b])
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), varint(body.length), body])
}

export const mqtt = {
  /** MQTT 3.1.1 CONNECT, clean session, keepalive 60 s. */
  connect(clientId: string): Buffer {
    return packet(0x10, Buffer.concat([str16('MQTT'), Buffer.from([0x04, 0x02, 0x00, 0x3c]), str16(clientId)]))
  },
  /** CONNACK accepted, no session present. */
  connack: Buffer.from([0x20, 0x02, 0x00, 0x00]),
  subscribe(packetId: number, filter: string, qos = 0): Buffer {
    return packet(0x82, Buffer.concat([Buffer.from([packetId >> 8, packetId & 0xff]), str16(filter), Buffer.from([qos])]))
  },
  suback(packetId: number, granted = 0): Buffer {
    return Buffer.from([0x90, 0x03, packetId >> 8, packetId & 0xff, granted])
  },
  /** QoS 0 PUBLISH, no retain, no dup. */
  publish(topic: string, payload: Buffer | string): Buffer {
    return packet(0x30, Buffer.concat([str16(topic), Buffer.isBuffer(payload) ? payload : Buffer.from(payload)]))
  },
  pingreq: Buffer.from([0xc0, 0x00]),
  pingresp: Buffer.from([0xd0, 0x00]),
  disconnect: Buffer.from([0xe0, 0x00]),
}

/**
 * A barrier: sends PINGREQ and waits for the PINGRESP frame, so that every frame the broker
 * wrote to this connection before answering has arrived. Returns the data frames received
 * before the PINGRESP (the PINGRESP frame itself is left out).
 */
export async function pingBarrier(ws: WireWs, timeoutMs?: number): Promise<WireFrame[]> {
  const before = ws.dataFrames.length
  ws.sendBinary(mqtt.pingreq)
  let at = -1
  await ws.waitFor(
    'PINGRESP',
    () => {
      const frames = ws.dataFrames
      for (let i = before; i < frames.length; i++) {
        if (frames[i].payload.equals(mqtt.pingresp)) {
          at = i
          return true
        }
      }
      return false
    },
    timeoutMs,
  )
  const frames = ws.dataFrames
  return frames.slice(0, at)
}
