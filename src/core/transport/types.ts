import type {IncomingHttpHeaders} from 'node:http'
import type {Socket} from 'node:net'
import type {PeerCertificate} from 'node:tls'
import type {Duplex} from 'node:stream'
import type {ListenerConfig, Scheme} from '../config.js'
import type {AddressSet} from '../guard/address.js'
import type {ProxyProtocolMode, TlsMinVersion} from '../guard/config.js'
import type {ListenerStats} from './listener-stats.js'
import type {WireCounter} from './wire-counter.js'

/** A byte stream carrying MQTT, whatever the transport: the broker sees only this. */
export interface Connection {
  stream: Duplex
  scheme: Scheme
  /** "127.0.0.1:50412" */
  remote: string
  /** The listener that accepted it, when there is one. */
  listenerId?: string
  stats?: ListenerStats
  /** The TCP/TLS socket under the stream (under the WebSocket for ws/wss): its byte counts are the listener's. */
  socket?: Socket
  /**
   * How the broker writes one event-loop turn of packets: 'concat' = copy into one buffer
   * (TCP/TLS), 'batch' = the stream implements PacketBatchWriter (our WS stream), 'cork' =
   * cork/uncork (others, e.g. ws with permessage-deflate). Absent: 'batch' if the stream has
   * writePackets, else 'cork'.
   */
  writeMode?: WriteMode
  /**
   * Called just before the broker closes the connection because a packet exceeded the
   * maximum size (WebSocket: the close frame then carries 1009). Call it as a method.
   */
  onPacketTooLarge?(): void
  /**
   * TLS (mqtts, wss): the client's certificate when it presented one (read when called).
   * Call it as a method.
   */
  peerCertificate?(): PeerCertificate | undefined
  /** WebSocket: the HTTP upgrade request (so authentication can read a cookie, Authorization header or query string). */
  request?: {url: string; headers: IncomingHttpHeaders}
}

export type WriteMode = 'concat' | 'batch' | 'cork'

/**
 * A stream that takes a whole event-loop turn of packets at once and writes them itself,
 * each in its own frame (WsServerStream): the broker then skips a stream write per packet.
 */
export interface PacketBatchWriter {
  writePackets(packets: readonly Buffer[], bytes: number): void
  /** Bytes written but not yet handed to the kernel (what writePackets left in the socket, too). */
  readonly pendingBytes: number
}

/**
 * A stream that can hand its reader's data straight to one listener, skipping Readable's
 * push machinery while it flows with nothing buffered (WsServerStream). The listener is
 * also its 'data' listener: what was pushed while paused arrives through Readable, in order.
 */
export interface DirectDataSource {
  onDataDirect(listener: (this: Duplex, data: Buffer) => void): void
}

export interface ListenerInfo {
  id: string
  scheme: Scheme
  host: string
  /** The real port, also when 0 was asked for. */
  port: number
  /** What a client connects to, e.g. ws://127.0.0.1:8083/mqtt */
  url: string
  path?: string
}

export interface Listener {
  readonly config: ListenerConfig
  readonly info: ListenerInfo
  readonly stats: ListenerStats
  /** Stops accepting; established connections are the broker's to close. */
  close(): Promise<void>
}

export interface ListenHooks {
  onConnection(conn: Connection): void
  /** A handshake (HTTP upgrade or TLS) failed before MQTT started. */
  onRejected(listenerId: string, reason: string, detail: string): void
  /** Maximum MQTT packet size: also the WebSocket maximum payload. */
  maxPacketSize: number
  /** The connect timeout: also the deadline of a TLS handshake and of a WebSocket upgrade. Absent: the platform's. */
  connectTimeoutMs?: number
  /** Sockets from one address not serving MQTT yet (pending.ts); past it new ones are closed. Absent or 0: no limit. */
  maxPendingPerAddress?: number
  /**
   * WebSocket: checks credentials the upgrade request carries (Auth.checkUpgrade) before the 101.
   * Undefined (no promise) when it carries none; a refusal answers with its HTTP status.
   */
  checkUpgrade?(request: {url: string; headers: IncomingHttpHeaders}, listenerId: string): Promise<UpgradeCheck> | undefined
  /** Peers whose PROXY header (TCP, TLS) or X-Forwarded-For/X-Real-IP (WebSocket) is believed (src/core/guard). Absent: none. */
  trustedProxies?: AddressSet
  /** With trustedProxies: 'auto' (a trusted peer may send a PROXY header) or 'require' (it must). */
  proxyProtocol?: ProxyProtocolMode
  /** The lowest TLS version of mqtts:// and wss:// listeners (default TLSv1.2). */
  tlsMinVersion?: TlsMinVersion
  /** New connections per second per listener; past it new sockets are closed at once. Absent or 0: no limit. */
  connectionRate?: number
}

/** What ListenHooks.checkUpgrade decided (the broker's UpgradeVerdict). */
export type UpgradeCheck = {ok: true} | {ok: false; status: number; reason: string; headers?: Record<string, string>}

export interface DialTls {
  /** PEM CA certificates to trust instead of the system's. */
  ca?: string | Buffer
  cert?: string | Buffer
  key?: string | Buffer
  /** Skip certificate verification (development only). */
  insecure?: boolean
  servername?: string
}

/**
 * How written packets map to WebSocket frames: one frame per packet (the default), one
 * frame per corked batch ("piggyback"), or every packet cut into frames of at most
 * `splitBytes` (to test how a peer reassembles packets that span frames).
 */
export type WsFraming = 'packet' | 'piggyback' | {splitBytes: number}

export interface DialOptions {
  tls?: DialTls
  /** Extra HTTP headers for the WebSocket handshake. */
  headers?: Record<string, string>
  /** Sec-WebSocket-Protocol to offer (default "mqtt"). */
  subprotocols?: string[]
  /** How outgoing packets map to WebSocket frames (default one frame per packet). */
  framing?: WsFraming
  /** Give up connecting after this long (default 10 s). */
  timeoutMs?: number
  /** Count TLS bytes as encrypted on the wire (slightly slower; bench turns it on). */
  countTlsBytes?: boolean
  /** Offer permessage-deflate; used when the server accepts it (see Dialed.extensions). */
  deflate?: boolean
}

export interface Dialed {
  stream: Duplex
  scheme: Scheme
  /**
   * Byte counters at the wire: the TCP socket, or with countTlsBytes the stream TLS
   * writes its records to. WebSocket frames (and TLS records, when counted) included.
   */
  socket: WireCounter
  /** The subprotocol the server chose (WebSocket only). */
  subprotocol?: string
  /** WebSocket extensions the server accepted, e.g. "permessage-deflate". */
  extensions?: string
}

/**
 * One scheme's listening and dialing in one place. transports.ts maps each scheme to a
 * loader of its Transport, so that a command loads only the transports it uses.
 */
export interface Transport {
  readonly scheme: Scheme
  readonly defaultPort: number
  /** TLS under it. */
  readonly secure: boolean
  readonly websocket: boolean
  /** Starts one listener; `stats` lets a restarted listener keep its counters. */
  listen(config: ListenerConfig, hooks: ListenHooks, stats: ListenerStats): Promise<Listener>
  /** Connects to `url` (of this scheme); rejects with a TransportError that says what to check. */
  dial(url: URL, options: DialOptions): Promise<Dialed>
}
