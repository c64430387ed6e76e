/** The Cluster page: the nodes this node knows (GET /api/v1/cluster), their state, last heartbeat and NATS counters. */
import type {ClusterInfo, ClusterNodeInfo} from '../core/api-types.js'
import {Badge, Empty, Header, api, fmtNumber, usePoll} from './ui.js'

function ago(ms: number): string {
  if (ms < 1000) return `${ms} ms ago`
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s ago`
  return `${Math.round(ms / 60_000)} min ago`
}

function since(startedAt: number): string {
  return startedAt > 0 ? new Date(startedAt).toLocaleString() : '–'
}

/** This node's own counters: the first three as cards, the rest in a list. */
const COUNTERS: Array<[string, string]> = [
  ['published', 'Sent to NATS'],
  ['received', 'Received from NATS'],
  ['sessionsReceived', 'Sessions moved here'],
  ['sessionsSent', 'sessions moved to other nodes'],
  ['sessionsRecovered', 'sessions of dead nodes taken over'],
  ['messagesReplayed', 'messages replayed into them'],
  ['takenOver', 'clients taken over by another node'],
  ['willsPublished', 'Wills of dead nodes published'],
  ['duplicates', 'copies dropped (overlapping subscriptions)'],
  ['publishErrors', 'not sent (NATS unreachable)'],
]

function NodeRow(props: {n: ClusterNodeInfo}): preact.JSX.Element {
  const n = props.n
  return (
    <tr data-node={n.name} data-state={n.state}>
      <td>
        <b>{n.name}</b> {n.self && <Badge kind="info">this node</Badge>}
        <div class="muted small mono">{n.instance}</div>
      </td>
      <td>
        <Badge kind={n.state === 'up' ? 'ok' : 'warn'}>{n.state}</Badge>
      </td>
      <td class="small" data-col="heartbeat">
        {n.self ? <span class="muted">–</span> : ago(n.lastSeenMs)}
      </td>
      <td class="small">{since(n.startedAt)}</td>
      <td class="num" data-col="received">
        {n.received === undefined ? <span class="muted">–</span> : fmtNumber(n.received)}
      </td>
      <td class="num" data-col="published">
        {n.published === undefined ? <span class="muted">–</span> : fmtNumber(n.published)}
      </td>
    </tr>
  )
}

export function Cluster(): preact.JSX.Element {
  const {data, error} = usePoll(() => api<ClusterInfo>('GET', '/api/v1/cluster'), 1000)
  if (data === undefined) return <div>{error ? <div class="alert error">{error}</div> : <div class="boot">Loading…</div>}</div>
  if (data.node === null) {
    return (
      <div>
        <Header title="Cluster" sub="Several nodes sharing one namespace through NATS JetStream." />
        <section class="card">
          <Empty>
            This broker runs alone. Start each node with <code>mqttws serve --cluster nats://HOST:PORT --cluster-name NAME</code> to join a cluster.
          </Empty>
        </section>
      </div>
    )
  }
  const up = data.nodes.filter((n) => n.state === 'up').length
  const stats = data.stats ?? {}
  return (
    <div>
      <Header
        title="Cluster"
        sub={
          <span>
            node <b>{data.node}</b> · {data.connected ? <Badge kind="ok">connected to NATS</Badge> : <Badge kind="warn">NATS unreachable</Badge>} {data.server && <span class="mono small">{data.server}</span>} · updated every second
          </span>
        }
      />
      {error && <div class="alert error">{error}</div>}
      <div class="stats">
        <div class="card stat" data-stat="nodes">
          <div class="stat-label">Nodes up</div>
          <div class="stat-value">
            {up} / {data.nodes.length}
          </div>
          <div class="stat-sub">a node missing three heartbeats is down</div>
        </div>
        {COUNTERS.slice(0, 3).map(([k, label]) => (
          <div class="card stat" key={k} data-stat={k}>
            <div class="stat-label">{label}</div>
            <div class="stat-value">{fmtNumber(stats[k] ?? 0)}</div>
            <div class="stat-sub">this node</div>
          </div>
        ))}
      </div>
      <section class="card flush">
        <table class="table" data-testid="cluster-nodes">
          <thead>
            <tr>
              <th>Node</th>
              <th>State</th>
              <th>Last heartbeat</th>
              <th>Started</th>
              <th class="num">Received from NATS</th>
              <th class="num">Published to NATS</th>
            </tr>
          </thead>
          <tbody>
            {data.nodes.map((n) => (
              <NodeRow key={n.instance} n={n} />
            ))}
          </tbody>
        </table>
      </section>
      <div class="grid2">
        <section class="card">
          <h2>This node</h2>
          <dl class="kv" data-testid="cluster-counters" style={{gridTemplateColumns: 'max-content 1fr'}}>
            {COUNTERS.slice(3)
              .filter(([k]) => stats[k] !== undefined)
              .map(([k, label]) => [
                <dt key={`${k}-t`}>{label}</dt>,
                <dd key={k} data-counter={k}>
                  {fmtNumber(stats[k])}
                </dd>,
              ])}
          </dl>
        </section>
        <section class="card">
          <h2>NATS</h2>
          <dl class="kv">
            <dt>servers</dt>
            <dd class="mono small">{(data.servers ?? []).join(', ')}</dd>
            <dt>connected to</dt>
            <dd class="mono small">{data.server ?? '–'}</dd>
            <dt>instance</dt>
            <dd class="mono small">{data.instance ?? '–'}</dd>
          </dl>
        </section>
      </div>
    </div>
  )
}
