import type {Socket} from 'node:net'
import type {Duplex} from 'node:stream'
import type {ListenerConfig, Scheme} from '../config.js'
import type {ListenerStats} from './listener-stats.js'

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
  /** How the broker writes one event-loop turn of packets: 'concat' = copy into one buffer (TCP/TLS), 'batch' = stream implements PacketBatchWriter (our WS stream), 'cork' = cork/uncork (others, e.g. ws with permessage-deflate). Absent: 'batch' if the stream has writePackets, else 'cork'. */
  writeMode?: 'concat' | 'batch' | 'cork'
  /** Called just before the broker closes the connection because a packet exceeded the maximum size (WebSocket: close code 1009). */
  onPacketTooLarge?(): void
  /** TLS (mqtts, wss): the client's certificate when it presented one (lazily read is fine: a getter or function). */
  peerCertificate?(): import('node:tls').PeerCertificate | undefined
  /** WebSocket: the HTTP upgrade request (so authentication can read a cookie, Authorization header or query string). */
  request?: {url: string; headers: import('node:http').IncomingHttpHeaders}
}

/**
 * A stream that takes a whole event-loop turn of packets at once and writes them itself,
 * each in its own frame (WsServerStream): the broker then skips a stream write per packet.
 */
export interface PacketBatchWriter {
  writePackets(packets: readonly Buffer[], bytes: number): void
  /** Bytes written but not yet handed to the kernel (what writePackets left in the socket, too). */
  readonly pendingBytes: number
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
}
