/**
 * The JSON the admin API answers with, for clients, subscriptions and retained messages.
 * No imports: the browser dashboard (src/dashboard, its own tsconfig) imports these types
 * too, so the page and the API cannot drift apart.
 */

export interface ClientInfo {
  clientId: string
  connected: boolean
  username: string | null
  listener: string | null
  transport: string | null
  address: string | null
  /** 3, 4 or 5 (MQTT 3.1, 3.1.1, 5.0); null for an offline session. */
  protocolVersion: number | null
  protocol: string | null
  /** Seconds; null for an offline session. */
  keepalive: number | null
  cleanStart: boolean | null
  /** Session Expiry Interval in seconds (4294967295: never). */
  sessionExpiry: number
  subscriptions: number
  inflight: number
  queued: number
  /** Messages dropped because the session queue was full. */
  dropped: number
  /** This connection's traffic: application messages published and delivered, socket bytes (WebSocket framing included); null offline. */
  messages: {in: number; out: number} | null
  bytes: {in: number; out: number} | null
  /** ISO times. */
  connectedAt: string | null
  disconnectedAt: string | null
}

export interface SubscriptionInfo {
  clientId: string
  /** As the client wrote it ($share/GROUP/… included). */
  filter: string
  /** The filter without $share/GROUP/. */
  topic: string
  qos: number
  noLocal: boolean
  retainAsPublished: boolean
  retainHandling: number
  subscriptionId?: number
  /** The shared subscription group, if any. */
  group?: string
}

export interface RetainedInfo {
  topic: string
  qos: number
  size: number
  /** ISO time when it expires (MQTT 5 Message Expiry), if it does. */
  expiresAt: string | null
  /** ISO time when it was retained (null: before mqttws kept the time). */
  storedAt: string | null
  /** The client id that published it; null for the broker's own, a Will, or unknown. */
  publisher: string | null
  contentType?: string
  payloadFormat?: 'utf8' | 'bytes'
}

/** GET /api/v1/cluster: the cluster as this node sees it (a single node: clustered false, no nodes). */
export interface ClusterInfo {
  clustered?: boolean
  /** This node's name; null on a single node. */
  node: string | null
  connected: boolean
  instance?: string
  servers?: string[]
  /** The NATS server this node is on now. */
  server?: string
  nodes: ClusterNodeInfo[]
  /** This node's counters (published, received, duplicates, sessionsSent, …). */
  stats?: Record<string, number>
}

export interface ClusterNodeInfo {
  name: string
  instance: string
  /** ms since the epoch. */
  startedAt: number
  state: 'up' | 'down'
  self: boolean
  /** ms since its last heartbeat (0 for this node). */
  lastSeenMs: number
  /** Messages it sent to NATS and received from NATS, as of its last heartbeat. */
  published?: number
  received?: number
}
