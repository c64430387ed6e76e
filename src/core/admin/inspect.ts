/**
 * What the admin API shows of clients, subscriptions and retained messages: JSON-ready
 * values read from the Broker's public inspection methods when asked (nothing is kept).
 */
import type {ClientInfo, RetainedInfo, SubscriptionInfo} from '../api-types.js'
import type {Broker} from '../broker/broker.js'
import type {Message} from '../broker/message.js'
import type {Scheme} from '../config.js'

/** The transport as people name it: tcp, tls, ws, wss. */
export const TRANSPORT: Record<Scheme, string> = {mqtt: 'tcp', mqtts: 'tls', ws: 'ws', wss: 'wss'}

export type {ClientInfo, RetainedInfo} from '../api-types.js'

const VERSION_NAME: Record<number, string> = {3: '3.1', 4: '3.1.1', 5: '5.0'}


export function clientInfo(broker: Broker, clientId: string): ClientInfo | undefined {
  const state = broker.sessionState(clientId)
  const c = broker.clients.get(clientId)
  if (state === undefined && c === undefined) return undefined
  const connected = c !== undefined
  return {
    clientId,
    connected,
    username: c?.username ?? null,
    listener: c?.conn.listenerId ?? null,
    transport: c ? TRANSPORT[c.conn.scheme] : null,
    address: c?.remote ?? null,
    protocolVersion: c?.version ?? null,
    protocol: c ? `MQTT ${VERSION_NAME[c.version] ?? c.version}` : null,
    keepalive: c ? c.keepaliveMs / 1000 : null,
    cleanStart: c?.cleanStart ?? null,
    sessionExpiry: state?.expiryInterval ?? 0,
    subscriptions: state?.subscriptions?.size ?? 0,
    inflight: state?.inflight?.size ?? 0,
    queued: state?.queue?.length ?? 0,
    dropped: state?.dropped ?? 0,
    messages: c ? {in: c.messagesIn, out: c.messagesOut} : null,
    bytes: c?.conn.socket ? {in: c.conn.socket.bytesRead, out: c.conn.socket.bytesWritten} : null,
    connectedAt: c ? new Date(c.connectedAt).toISOString() : null,
    disconnectedAt: !connected && state?.disconnectedAt !== undefined ? new Date(state.disconnectedAt).toISOString() : null,
  }
}

/** Connected clients and offline sessions, connected first, then by client id. */
export function listClients(broker: Broker): ClientInfo[] {
  const ids = new Set<string>(broker.clients.keys())
  for (const id of broker.sessionIds()) ids.add(id)
  const out: ClientInfo[] = []
  for (const id of ids) {
    const info = clientInfo(broker, id)
    if (info) out.push(info)
  }
  return out.sort((a, b) => Number(b.connected) - Number(a.connected) || (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0))
}

export function listSubscriptions(broker: Broker, query: URLSearchParams): SubscriptionInfo[] {
  let subs = broker.subscriptions(query.get('clientId') ?? undefined)
  const topic = query.get('topic')
  if (topic) subs = subs.filter((s) => s.filter.includes(topic))
  const group = query.get('group')
  if (group) subs = subs.filter((s) => s.group === group)
  return subs.sort((a, b) => (a.clientId === b.clientId ? (a.filter < b.filter ? -1 : 1) : a.clientId < b.clientId ? -1 : 1))
}


export function retainedInfo(m: Message): RetainedInfo {
  const props = m.properties
  return {
    topic: m.topic,
    qos: m.qos,
    size: m.payload.length,
    expiresAt: m.expiresAt === undefined ? null : new Date(m.expiresAt).toISOString(),
    storedAt: m.storedAt === undefined ? null : new Date(m.storedAt).toISOString(),
    publisher: m.publisher ?? null,
    ...(props?.contentType === undefined ? {} : {contentType: props.contentType}),
    ...(props?.payloadFormatIndicator === undefined ? {} : {payloadFormat: props.payloadFormatIndicator ? 'utf8' : 'bytes'}),
  }
}

/** One retained message with its payload as base64 and, when it is valid UTF-8, as text. */
export function retainedWithPayload(m: Message): RetainedInfo & {payload: string; text: string | null} {
  const payload = Buffer.isBuffer(m.payload) ? m.payload : Buffer.from(m.payload)
  const text = payload.toString('utf8')
  const valid = Buffer.from(text, 'utf8').equals(payload)
  return {...retainedInfo(m), payload: payload.toString('base64'), text: valid ? text : null}
}
