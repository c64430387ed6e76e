/** The Clients and Subscriptions pages. */
import {useMemo, useState} from 'preact/hooks'
import type {ClientInfo as Client, SubscriptionInfo as Subscription} from '../core/api-types.js'
import type {ConfirmRequest} from './ui.js'
import {Badge, ConfirmDialog, Empty, Header, TRANSPORT_NAMES, api, fmtBytes, fmtNumber, fmtTime, usePoll} from './ui.js'

// ---- Clients ----



function expiry(s: number): string {
  if (s === 0xffffffff) return 'never'
  if (s === 0) return 'with the connection'
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`
}

export function Clients(): preact.JSX.Element {
  const {data, error, refresh} = usePoll(() => api<{clients: Client[]}>('GET', '/api/v1/clients'), 2000)
  const [q, setQ] = useState('')
  const [selected, setSelected] = useState<string | undefined>(undefined)
  const [confirm, setConfirm] = useState<ConfirmRequest | undefined>(undefined)
  const list = useMemo(() => {
    const s = q.trim().toLowerCase()
    const all = data?.clients ?? []
    return s === '' ? all : all.filter((c) => [c.clientId, c.username ?? '', c.address ?? '', c.listener ?? ''].some((v) => v.toLowerCase().includes(s)))
  }, [data, q])
  const kick = (c: Client): void =>
    setConfirm({
      title: `Kick ${c.clientId}?`,
      message: (
        <p>
          The client is disconnected (MQTT 5: DISCONNECT 0x98, administrative action). Its Will is published; its session is kept for {expiry(c.sessionExpiry)}. It may connect again.
        </p>
      ),
      action: 'Kick',
      danger: true,
      run: () => api('POST', `/api/v1/clients/${encodeURIComponent(c.clientId)}/kick`).then(refresh),
    })
  const connected = (data?.clients ?? []).filter((c) => c.connected).length
  return (
    <div>
      <Header title="Clients" sub={data ? `${connected} connected · ${(data.clients.length - connected).toString()} offline sessions` : undefined}>
        <input class="search" type="search" placeholder="Search client id, user, address…" value={q} onInput={(e) => setQ(e.currentTarget.value)} data-testid="client-search" />
      </Header>
      {error && <div class="alert error">{error}</div>}
      <div class={selected ? 'split' : ''}>
        <section class="card flush">
          <table class="table clickable" data-testid="clients">
            <thead>
              <tr>
                <th>Client id</th>
                <th>State</th>
                <th>User</th>
                <th>Listener</th>
                <th class="opt">Address</th>
                <th>Protocol</th>
                <th class="num opt">Keepalive</th>
                <th class="num">Subs</th>
                <th class="num opt">Inflight</th>
                <th class="num opt">Queued</th>
                <th class="opt">Connected</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.clientId} data-client={c.clientId} class={selected === c.clientId ? 'selected' : ''} onClick={() => setSelected(c.clientId)}>
                  <td class="strong mono">{c.clientId}</td>
                  <td>{c.connected ? <Badge kind="ok">connected</Badge> : <Badge kind="off">offline</Badge>}</td>
                  <td>{c.username ?? <span class="muted">–</span>}</td>
                  <td>
                    {c.listener ?? '–'} {c.transport && <span class="muted small">{TRANSPORT_NAMES[c.transport] ?? c.transport}</span>}
                  </td>
                  <td class="mono small opt">{c.address ?? '–'}</td>
                  <td>{c.protocol ?? '–'}</td>
                  <td class="num opt">{c.keepalive === null ? '–' : `${c.keepalive} s`}</td>
                  <td class="num">{c.subscriptions}</td>
                  <td class="num opt">{c.inflight}</td>
                  <td class="num opt">{c.queued}</td>
                  <td class="small opt">{c.connected ? fmtTime(c.connectedAt) : `left ${fmtTime(c.disconnectedAt)}`}</td>
                  <td class="actions">
                    {c.connected && (
                      <button
                        class="btn small ghost-danger"
                        onClick={(e) => {
                          e.stopPropagation()
                          kick(c)
                        }}
                      >
                        Kick
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {data && list.length === 0 && <Empty>{q ? 'No client matches.' : 'No clients connected and no offline sessions.'}</Empty>}
        </section>
        {selected && <ClientDetail id={selected} onClose={() => setSelected(undefined)} onKick={kick} />}
      </div>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(undefined)} />
    </div>
  )
}

function ClientDetail(props: {id: string; onClose: () => void; onKick: (c: Client) => void}): preact.JSX.Element {
  const {data, error} = usePoll(() => api<Client & {subscriptionList: Subscription[]}>('GET', `/api/v1/clients/${encodeURIComponent(props.id)}`), 2000, [props.id])
  return (
    <aside class="card detail" data-testid="client-detail">
      <div class="detail-head">
        <h2 class="mono">{props.id}</h2>
        <button class="btn small" onClick={props.onClose} aria-label="Close">
          ✕
        </button>
      </div>
      {error && <div class="alert error">{error}</div>}
      {data && (
        <>
          <dl class="kv">
            <dt>State</dt>
            <dd>{data.connected ? <Badge kind="ok">connected</Badge> : <Badge kind="off">offline</Badge>}</dd>
            <dt>Protocol</dt>
            <dd>{data.protocol ?? '–'}</dd>
            <dt>User name</dt>
            <dd>{data.username ?? '–'}</dd>
            <dt>Listener</dt>
            <dd>{data.listener ? `${data.listener} (${TRANSPORT_NAMES[data.transport ?? ''] ?? data.transport})` : '–'}</dd>
            <dt>Address</dt>
            <dd class="mono">{data.address ?? '–'}</dd>
            <dt>Keepalive</dt>
            <dd>{data.keepalive === null ? '–' : `${data.keepalive} s`}</dd>
            <dt>Clean start</dt>
            <dd>{data.cleanStart === null ? '–' : data.cleanStart ? 'yes' : 'no'}</dd>
            <dt>Session expiry</dt>
            <dd>{expiry(data.sessionExpiry)}</dd>
            <dt>Inflight / queued</dt>
            <dd>
              {data.inflight} / {data.queued}
              {data.dropped > 0 && <span class="muted"> ({data.dropped} dropped)</span>}
            </dd>
            {data.messages && (
              <>
                <dt>Messages in / out</dt>
                <dd data-testid="client-messages">
                  {fmtNumber(data.messages.in)} / {fmtNumber(data.messages.out)}
                </dd>
              </>
            )}
            {data.bytes && (
              <>
                <dt>Bytes in / out</dt>
                <dd>
                  {fmtBytes(data.bytes.in)} / {fmtBytes(data.bytes.out)}
                </dd>
              </>
            )}
            <dt>{data.connected ? 'Connected' : 'Left'}</dt>
            <dd>{fmtTime(data.connected ? data.connectedAt : data.disconnectedAt)}</dd>
          </dl>
          <h3>Subscriptions ({data.subscriptionList.length})</h3>
          {data.subscriptionList.length === 0 ? (
            <Empty>No subscriptions.</Empty>
          ) : (
            <table class="table compact">
              <thead>
                <tr>
                  <th>Filter</th>
                  <th class="num">QoS</th>
                  <th>Options</th>
                </tr>
              </thead>
              <tbody>
                {data.subscriptionList.map((s) => (
                  <tr key={s.filter}>
                    <td class="mono">{s.filter}</td>
                    <td class="num">{s.qos}</td>
                    <td class="small">{subOptions(s)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {data.connected && (
            <div class="form-actions">
              <button class="btn danger" onClick={() => props.onKick(data)} data-testid="kick">
                Kick client
              </button>
            </div>
          )}
        </>
      )}
    </aside>
  )
}

function subOptions(s: Subscription): string {
  const o: string[] = []
  if (s.noLocal) o.push('no local')
  if (s.retainAsPublished) o.push('retain as published')
  if (s.retainHandling !== 0) o.push(`retain handling ${s.retainHandling}`)
  if (s.group) o.push(`group ${s.group}`)
  return o.join(', ') || '–'
}

// ---- Subscriptions ----

export function Subscriptions(): preact.JSX.Element {
  const {data, error} = usePoll(() => api<{subscriptions: Subscription[]}>('GET', '/api/v1/subscriptions'), 2000)
  const [q, setQ] = useState('')
  const [qos, setQos] = useState('any')
  const list = (data?.subscriptions ?? []).filter((s) => (q === '' || s.filter.includes(q) || s.clientId.includes(q)) && (qos === 'any' || String(s.qos) === qos))
  return (
    <div>
      <Header title="Subscriptions" sub={data ? `${data.subscriptions.length} subscriptions` : undefined}>
        <select value={qos} onChange={(e) => setQos(e.currentTarget.value)} aria-label="QoS">
          <option value="any">Any QoS</option>
          <option value="0">QoS 0</option>
          <option value="1">QoS 1</option>
          <option value="2">QoS 2</option>
        </select>
        <input class="search" type="search" placeholder="Filter by topic or client id" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      </Header>
      {error && <div class="alert error">{error}</div>}
      <section class="card flush">
        <table class="table">
          <thead>
            <tr>
              <th>Topic filter</th>
              <th>Client id</th>
              <th class="num">QoS</th>
              <th>No local</th>
              <th>Retain as published</th>
              <th class="num">Retain handling</th>
              <th>Shared group</th>
            </tr>
          </thead>
          <tbody>
            {list.map((s) => (
              <tr key={`${s.clientId} ${s.filter}`}>
                <td class="mono strong">{s.topic}</td>
                <td class="mono">{s.clientId}</td>
                <td class="num">{s.qos}</td>
                <td>{s.noLocal ? 'yes' : 'no'}</td>
                <td>{s.retainAsPublished ? 'yes' : 'no'}</td>
                <td class="num">{s.retainHandling}</td>
                <td>{s.group ? <Badge kind="info">{s.group}</Badge> : <span class="muted">–</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && list.length === 0 && <Empty>No subscriptions{q || qos !== 'any' ? ' match' : ''}.</Empty>}
      </section>
    </div>
  )
}

