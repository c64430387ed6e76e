/**
 * The Prometheus text exposition format (version 0.0.4) of a broker, for `GET /metrics`:
 * every figure is read at scrape time from counters that already exist (each listener's
 * counters, `broker.metrics`, the session, subscription and retained counts), so a scrape
 * adds nothing to the hot path. Per-listener series carry `listener` and `transport` labels.
 */
import type {Broker} from '../broker/broker.js'
import {TRANSPORT} from './inspect.js'

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

type Labels = Record<string, string>

function esc(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"')
}

class Exposition {
  private readonly lines: string[] = []

  metric(name: string, type: 'counter' | 'gauge', help: string, samples: Array<[Labels, number]>): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) {
      const keys = Object.keys(labels)
      const l = keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${esc(labels[k])}"`).join(',')}}`
      this.lines.push(`${name}${l} ${Number.isFinite(value) ? value : 0}`)
    }
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`
  }
}

/** Renders the broker's metrics; `uptimeSeconds` comes from the caller (the admin server's start). */
export function renderPrometheus(broker: Broker, uptimeSeconds: number): string {
  const e = new Exposition()
  const statuses = broker.listenerStatuses()
  const per = (f: (s: (typeof statuses)[number]) => number): Array<[Labels, number]> =>
    statuses.map((s) => [{listener: s.id, transport: TRANSPORT[s.scheme]}, f(s)])
  const subs = broker.subscriptionCount()
  const m = broker.metrics

  e.metric('mqttws_uptime_seconds', 'gauge', 'Seconds since the admin API started.', [[{}, Math.floor(uptimeSeconds)]])
  e.metric('mqttws_listener_up', 'gauge', 'Whether the listener is running (1) or stopped (0).', per((s) => (s.state === 'running' ? 1 : 0)))
  e.metric('mqttws_connections', 'gauge', 'Open connections.', per((s) => s.connections.current))
  e.metric('mqttws_connections_peak', 'gauge', 'Most connections open at once.', per((s) => s.connections.peak))
  e.metric('mqttws_connections_accepted_total', 'counter', 'Connections accepted.', per((s) => s.connections.accepted))
  e.metric('mqttws_connections_refused_total', 'counter', 'Sockets closed at once because their listener was full.', [[{}, m.connectionsRefused]])
  const rejects: Array<[Labels, number]> = []
  const authFailures: Array<[Labels, number]> = []
  const authByReason: Array<[Labels, number]> = []
  for (const s of statuses) {
    const labels = {listener: s.id, transport: TRANSPORT[s.scheme]}
    authFailures.push([labels, s.connections.rejected.auth ?? 0])
    for (const [reason, n] of Object.entries(s.connections.authFailures ?? {})) authByReason.push([{...labels, reason}, n])
    for (const [reason, n] of Object.entries(s.connections.rejected)) rejects.push([{...labels, reason}, n])
  }
  e.metric('mqttws_rejected_total', 'counter', 'Handshakes and connections refused, by reason (path, subprotocol, origin, tls, auth, ...).', rejects)
  e.metric('mqttws_auth_failures_total', 'counter', 'CONNECTs refused by authentication.', authFailures)
  if (authByReason.length > 0) e.metric('mqttws_auth_failures_by_reason_total', 'counter', 'CONNECTs refused by authentication, by reason (bad-credentials, not-authorized, bad-method, busy, ...).', authByReason)
  e.metric('mqttws_clients_connected', 'gauge', 'Clients connected (CONNECT accepted).', [[{}, broker.clients.size]])
  e.metric('mqttws_sessions', 'gauge', 'Sessions held, connected and offline.', [[{}, broker.sessionCount]])
  e.metric('mqttws_subscriptions', 'gauge', 'Subscriptions held by all sessions.', [[{}, subs.total]])
  e.metric('mqttws_shared_groups', 'gauge', 'Shared subscription groups with members.', [[{}, subs.shared]])
  e.metric('mqttws_retained_messages', 'gauge', 'Retained messages stored by clients.', [[{}, broker.retainedCount()]])
  e.metric('mqttws_messages_received_total', 'counter', 'PUBLISH packets received from clients.', per((s) => s.messages.published))
  e.metric('mqttws_messages_sent_total', 'counter', 'PUBLISH packets sent to clients.', per((s) => s.messages.delivered))
  e.metric('mqttws_messages_dropped_total', 'counter', 'Messages not delivered, by reason.', [
    [{reason: 'queue_full'}, m.queueDropped],
    [{reason: 'slow_consumer'}, m.slowConsumerDropped],
    [{reason: 'too_large'}, m.tooLargeDropped],
    [{reason: 'expired'}, m.expired],
    [{reason: 'retained_limit'}, m.retainedDropped],
  ])
  e.metric('mqttws_topic_alias_bytes_saved_total', 'counter', 'Topic bytes not sent because an MQTT 5 topic alias stood for them.', [[{}, m.topicAliasBytesSaved]])
  const limited: Array<[Labels, number]> = []
  for (const s of statuses) {
    const labels = {listener: s.id, transport: TRANSPORT[s.scheme]}
    limited.push([{...labels, action: 'dropped'}, s.rateLimited.dropped], [{...labels, action: 'refused'}, s.rateLimited.refused])
  }
  const denied: Array<[Labels, number]> = []
  for (const s of statuses) {
    const labels = {listener: s.id, transport: TRANSPORT[s.scheme]}
    denied.push([{...labels, action: 'publish'}, s.denied.publish], [{...labels, action: 'subscribe'}, s.denied.subscribe], [{...labels, action: 'deliver'}, s.denied.delivery])
  }
  e.metric('mqttws_authorization_denied_total', 'counter', 'Refused by authorization (ACL): PUBLISHes and Wills, subscriptions (per filter), deliveries.', denied)
  e.metric('mqttws_messages_rate_limited_total', 'counter', 'PUBLISH over the client\'s message or byte rate: QoS 0 dropped, QoS 1/2 refused (MQTT 5: 0x97).', limited)
  e.metric('mqttws_bans', 'gauge', 'Bans in force (client ids, user names, addresses).', [[{}, broker.guard.bans.list().length]])
  e.metric('mqttws_messages_no_subscribers_total', 'counter', 'Messages published to a topic nobody subscribes to.', [[{}, m.noSubscribers]])
  e.metric('mqttws_slow_consumer_disconnects_total', 'counter', 'Connections closed because their output did not drain in time.', [[{}, m.slowConsumerDisconnects]])
  e.metric('mqttws_store_errors_total', 'counter', 'Store commits that failed.', [[{}, m.storeErrors]])
  e.metric('mqttws_bytes_received_total', 'counter', 'Bytes read from sockets (TLS, WebSocket and HTTP handshake included).', per((s) => s.bytes.in))
  e.metric('mqttws_bytes_sent_total', 'counter', 'Bytes written to sockets.', per((s) => s.bytes.out))
  e.metric('mqttws_packets_received_total', 'counter', 'MQTT packets received.', per((s) => s.packets.in))
  e.metric('mqttws_packets_sent_total', 'counter', 'MQTT packets sent.', per((s) => s.packets.out))
  const ws = statuses.filter((s) => s.scheme === 'ws' || s.scheme === 'wss')
  const perWs = (f: (s: (typeof statuses)[number]) => number): Array<[Labels, number]> => ws.map((s) => [{listener: s.id, transport: TRANSPORT[s.scheme]}, f(s)])
  e.metric('mqttws_ws_frames_received_total', 'counter', 'WebSocket data frames received.', perWs((s) => s.wsFrames.in))
  e.metric('mqttws_ws_frames_sent_total', 'counter', 'WebSocket data frames sent.', perWs((s) => s.wsFrames.out))
  return e.toString()
}
