/**
 * The mqttws dashboard: sign-in, Overview, Listeners, Clients, Subscriptions, Retained and
 * the WebSocket client (loaded on first use). Served by the admin API; talks to it with the
 * HttpOnly sign-in cookie. Hash routes (#/clients), so the server only serves files.
 */
import {render} from 'preact'
import type {ComponentChildren} from 'preact'
import {lazy, Suspense} from 'preact/compat'
import {useEffect, useMemo, useState} from 'preact/hooks'
import type {ConfirmRequest, PayloadView, Series} from './ui.js'
import {Badge, ConfirmDialog, Empty, LineChart, PayloadTabs, TRANSPORT_NAMES, api, auth, base64ToBytes, fmtBytes, fmtNumber, fmtTime, renderPayload, usePoll} from './ui.js'

const WsClientPage = lazy(() => import('./wsclient.js').then((m) => m.WsClientPage))

// ---- live samples for the overview (kept while signed in, whatever page is shown) ----

interface Listener {
  id: string
  url: string
  scheme: string
  state: string
  connections: {current: number; peak: number; accepted: number; rejectedTotal: number; rejected: Record<string, number>}
  bytes: {in: number; out: number}
  packets: {in: number; out: number}
  wsFrames: {in: number; out: number}
  messages: {published: number; delivered: number}
}

interface Metrics {
  clients: number
  sessions: number
  listeners: number
  running: number
  subscriptions: {total: number; shared: number}
  retained: number
  connections: {current: number}
  messages: {published: number; delivered: number}
  bytes: {in: number; out: number}
  metrics: Record<string, number>
}

interface Sample {
  at: number
  listeners: Listener[]
  metrics: Metrics
}

interface Rates {
  msgsIn: number
  msgsOut: number
  bytesIn: number
  bytesOut: number
}

const SPAN = 300
const history: {samples: Sample[]; rates: Rates[]; byTransport: Map<string, Rates[]>; listenerRates: Map<string, Rates>} = {
  samples: [],
  rates: [],
  byTransport: new Map(),
  listenerRates: new Map(),
}

function rate(a: {messages: {published: number; delivered: number}; bytes: {in: number; out: number}}, b: typeof a, dt: number): Rates {
  const r = (x: number, y: number): number => Math.max(0, y - x) / dt
  return {msgsIn: r(a.messages.published, b.messages.published), msgsOut: r(a.messages.delivered, b.messages.delivered), bytesIn: r(a.bytes.in, b.bytes.in), bytesOut: r(a.bytes.out, b.bytes.out)}
}

function sumBy(ls: Listener[], scheme: string): {messages: {published: number; delivered: number}; bytes: {in: number; out: number}} {
  const s = {messages: {published: 0, delivered: 0}, bytes: {in: 0, out: 0}}
  for (const l of ls) {
    if (l.scheme !== scheme) continue
    s.messages.published += l.messages.published
    s.messages.delivered += l.messages.delivered
    s.bytes.in += l.bytes.in
    s.bytes.out += l.bytes.out
  }
  return s
}

function push<T>(list: T[], v: T): void {
  list.push(v)
  if (list.length > SPAN) list.shift()
}

function addSample(s: Sample): void {
  const prev = history.samples.at(-1)
  push(history.samples, s)
  if (prev === undefined) return
  const dt = (s.at - prev.at) / 1000
  if (dt <= 0) return
  push(history.rates, rate(prev.metrics, s.metrics, dt))
  for (const scheme of ['mqtt', 'mqtts', 'ws', 'wss']) {
    let list = history.byTransport.get(scheme)
    if (list === undefined) history.byTransport.set(scheme, (list = []))
    push(list, rate(sumBy(prev.listeners, scheme), sumBy(s.listeners, scheme), dt))
  }
  const before = new Map(prev.listeners.map((l) => [l.id, l]))
  history.listenerRates.clear()
  for (const l of s.listeners) {
    const p = before.get(l.id)
    if (p) history.listenerRates.set(l.id, rate(p, l, dt))
  }
}

function useSampler(active: boolean): number {
  const [version, setVersion] = useState(0)
  useEffect(() => {
    if (!active) return
    let live = true
    let timer: number | undefined
    const run = async (): Promise<void> => {
      try {
        const [l, m] = await Promise.all([api<{listeners: Listener[]}>('GET', '/api/v1/listeners'), api<Metrics>('GET', '/api/v1/metrics')])
        if (!live) return
        addSample({at: Date.now(), listeners: l.listeners, metrics: m})
        setVersion((v) => v + 1)
      } catch {
        // shown by the pages; keep sampling
      }
      if (live) timer = window.setTimeout(run, 1000)
    }
    void run()
    return () => {
      live = false
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [active])
  return version
}

// ---- routing and shell ----

const PAGES = [
  ['overview', 'Overview'],
  ['listeners', 'Listeners'],
  ['clients', 'Clients'],
  ['subscriptions', 'Subscriptions'],
  ['retained', 'Retained'],
  ['websocket', 'WebSocket client'],
] as const
type Page = (typeof PAGES)[number][0]

function currentPage(): Page {
  const h = location.hash.replace(/^#\/?/, '')
  return (PAGES.find(([id]) => id === h)?.[0] ?? 'overview') as Page
}

const ICONS: Record<Page, string> = {
  overview: 'M3 13h4v8H3zM10 8h4v13h-4zM17 3h4v18h-4z',
  listeners: 'M4 6h16M4 12h16M4 18h16',
  clients: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 9a7 7 0 0 1 14 0',
  subscriptions: 'M4 4h16v4H4zM4 10h10v4H4zM4 16h7v4H4z',
  retained: 'M6 3h12v18l-6-4-6 4z',
  websocket: 'M4 12h5l2-5 3 10 2-5h4',
}

function App(): preact.JSX.Element {
  const [signedIn, setSignedIn] = useState<boolean | undefined>(undefined)
  const [page, setPage] = useState<Page>(currentPage())
  useEffect(() => {
    auth.onUnauthorized = () => setSignedIn(false)
    api('GET', '/api/v1/session').then(
      () => setSignedIn(true),
      () => setSignedIn(false),
    )
    const onHash = (): void => setPage(currentPage())
    window.addEventListener('hashchange', onHash)
    return () => window.removeEventListener('hashchange', onHash)
  }, [])
  const version = useSampler(signedIn === true)
  if (signedIn === undefined) return <div class="boot">Loading…</div>
  if (!signedIn) return <SignIn onDone={() => setSignedIn(true)} />
  const signOut = async (): Promise<void> => {
    await api('DELETE', '/api/v1/session').catch(() => undefined)
    history.samples.length = 0
    history.rates.length = 0
    setSignedIn(false)
  }
  return (
    <div class="shell">
      <nav class="side">
        <div class="brand">
          <Logo /> mqttws
        </div>
        {PAGES.map(([id, label]) => (
          <a key={id} href={`#/${id}`} class={page === id ? 'active' : ''} data-page={id}>
            <svg viewBox="0 0 24 24" class="icon">
              <path d={ICONS[id]} />
            </svg>
            {label}
          </a>
        ))}
        <div class="side-foot">
          <button class="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </nav>
      <main class="content">
        {page === 'overview' && <Overview version={version} />}
        {page === 'listeners' && <Listeners version={version} />}
        {page === 'clients' && <Clients />}
        {page === 'subscriptions' && <Subscriptions />}
        {page === 'retained' && <Retained />}
        {/* Kept mounted: its connections survive a visit to another page. */}
        <div style={{display: page === 'websocket' ? 'block' : 'none'}}>
          {(page === 'websocket' || wsVisited.value) && (
            <Suspense fallback={<div class="boot">Loading the WebSocket client…</div>}>
              <WsClientPage listeners={history.samples.at(-1)?.listeners ?? []} />
            </Suspense>
          )}
        </div>
      </main>
    </div>
  )
}

const wsVisited = {value: false}
window.addEventListener('hashchange', () => {
  if (currentPage() === 'websocket') wsVisited.value = true
})
if (currentPage() === 'websocket') wsVisited.value = true

function Logo(): preact.JSX.Element {
  return (
    <svg viewBox="0 0 32 32" class="logo" aria-hidden="true">
      <rect width="32" height="32" rx="8" fill="#4f46e5" />
      <path d="M8 22V10l8 7 8-7v12" stroke="#fff" stroke-width="2.6" fill="none" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  )
}

function SignIn(props: {onDone: () => void}): preact.JSX.Element {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    try {
      await api('POST', '/api/v1/session', {token})
      setToken('')
      props.onDone()
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setBusy(false)
    }
  }
  return (
    <div class="signin">
      <form class="card signin-card" onSubmit={submit}>
        <div class="brand big">
          <Logo /> mqttws
        </div>
        <p class="muted">Sign in with the admin token that <code>mqttws serve</code> printed at start (also in its token file).</p>
        <label>
          Admin token
          <input type="password" name="token" autoComplete="current-password" value={token} onInput={(e) => setToken(e.currentTarget.value)} autoFocus required />
        </label>
        {error && <div class="alert error">{error}</div>}
        <button class="btn primary wide" disabled={busy || token === ''} type="submit">
          Sign in
        </button>
      </form>
    </div>
  )
}

function Header(props: {title: string; sub?: ComponentChildren; children?: ComponentChildren}): preact.JSX.Element {
  return (
    <header class="page-head">
      <div>
        <h1>{props.title}</h1>
        {props.sub && <p class="muted">{props.sub}</p>}
      </div>
      <div class="head-actions">{props.children}</div>
    </header>
  )
}

// ---- Overview ----

function Stat(props: {label: string; value: string; sub?: string; id?: string}): preact.JSX.Element {
  return (
    <div class="card stat" data-stat={props.id}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      {props.sub && <div class="stat-sub">{props.sub}</div>}
    </div>
  )
}

function Overview(_props: {version: number}): preact.JSX.Element {
  const last = history.samples.at(-1)
  const r = history.rates.at(-1) ?? {msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0}
  if (last === undefined) return <div class="boot">Loading…</div>
  const m = last.metrics
  const msgSeries: Series[] = [
    {name: 'in', color: '#4f46e5', values: history.rates.map((x) => x.msgsIn)},
    {name: 'out', color: '#10b981', values: history.rates.map((x) => x.msgsOut)},
  ]
  const byteSeries: Series[] = [
    {name: 'in', color: '#6366f1', values: history.rates.map((x) => x.bytesIn)},
    {name: 'out', color: '#f59e0b', values: history.rates.map((x) => x.bytesOut)},
  ]
  const dropped = ['queueDropped', 'slowConsumerDropped', 'tooLargeDropped', 'expired', 'retainedDropped'].reduce((n, k) => n + (m.metrics[k] ?? 0), 0)
  return (
    <div>
      <Header title="Overview" sub={`${m.running} of ${m.listeners} listeners running · updated every second`} />
      <div class="stats">
        <Stat id="connections" label="Connections" value={fmtNumber(m.connections.current)} sub={`${m.clients} clients connected`} />
        <Stat id="sessions" label="Sessions" value={fmtNumber(m.sessions)} sub={`${m.sessions - m.clients} offline`} />
        <Stat id="subscriptions" label="Subscriptions" value={fmtNumber(m.subscriptions.total)} sub={`${m.subscriptions.shared} shared groups`} />
        <Stat id="retained" label="Retained" value={fmtNumber(m.retained)} sub="messages" />
        <Stat id="received" label="Messages received" value={fmtNumber(m.messages.published)} sub={`${fmtNumber(r.msgsIn)}/s`} />
        <Stat id="sent" label="Messages sent" value={fmtNumber(m.messages.delivered)} sub={`${fmtNumber(r.msgsOut)}/s · ${fmtNumber(dropped)} dropped`} />
        <Stat id="bytes-in" label="Bytes in" value={fmtBytes(m.bytes.in)} sub={`${fmtBytes(r.bytesIn)}/s`} />
        <Stat id="bytes-out" label="Bytes out" value={fmtBytes(m.bytes.out)} sub={`${fmtBytes(r.bytesOut)}/s`} />
      </div>
      <div class="grid2">
        <section class="card">
          <h2>Messages per second</h2>
          <LineChart series={msgSeries} span={SPAN} />
        </section>
        <section class="card">
          <h2>Bytes per second</h2>
          <LineChart series={byteSeries} span={SPAN} format={fmtBytes} />
        </section>
      </div>
      <section class="card">
        <h2>By transport</h2>
        <table class="table">
          <thead>
            <tr>
              <th>Transport</th>
              <th class="num">Listeners</th>
              <th class="num">Connections</th>
              <th class="num">Msgs in/s</th>
              <th class="num">Msgs out/s</th>
              <th class="num">Bytes in/s</th>
              <th class="num">Bytes out/s</th>
              <th>Last minutes</th>
            </tr>
          </thead>
          <tbody>
            {['mqtt', 'mqtts', 'ws', 'wss'].map((scheme) => {
              const ls = last.listeners.filter((l) => l.scheme === scheme)
              const rates = history.byTransport.get(scheme) ?? []
              const now = rates.at(-1) ?? {msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0}
              return (
                <tr key={scheme}>
                  <td>
                    <b>{TRANSPORT_NAMES[scheme]}</b>
                  </td>
                  <td class="num">{ls.length}</td>
                  <td class="num">{ls.reduce((n, l) => n + l.connections.current, 0)}</td>
                  <td class="num">{fmtNumber(now.msgsIn)}</td>
                  <td class="num">{fmtNumber(now.msgsOut)}</td>
                  <td class="num">{fmtBytes(now.bytesIn)}</td>
                  <td class="num">{fmtBytes(now.bytesOut)}</td>
                  <td class="spark-cell">{ls.length > 0 ? <Spark values={rates.map((x) => x.msgsIn + x.msgsOut)} /> : <span class="muted small">no listener</span>}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </section>
    </div>
  )
}

function Spark(props: {values: number[]}): preact.JSX.Element {
  const w = 160
  const h = 28
  const max = Math.max(1, ...props.values)
  const n = props.values.length
  const pts = props.values.map((v, i) => `${(((SPAN - n + i) / (SPAN - 1)) * w).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(' ')
  return (
    <svg viewBox={`0 0 ${w} ${h}`} class="spark" preserveAspectRatio="none">
      <polyline points={pts} fill="none" stroke="#4f46e5" stroke-width="1.5" vector-effect="non-scaling-stroke" />
    </svg>
  )
}

// ---- Listeners ----

function stateBadge(state: string): preact.JSX.Element {
  return <Badge kind={state === 'running' ? 'ok' : 'off'}>{state}</Badge>
}

function Listeners(_props: {version: number}): preact.JSX.Element {
  const {data, error, refresh} = usePoll(() => api<{listeners: Listener[]}>('GET', '/api/v1/listeners'), 1000)
  const [confirm, setConfirm] = useState<ConfirmRequest | undefined>(undefined)
  const [adding, setAdding] = useState(false)
  const act = (l: Listener, action: 'stop' | 'start' | 'restart' | 'remove'): void => {
    const n = l.connections.current
    const clients = `${n} client${n === 1 ? '' : 's'}`
    const run = (): Promise<unknown> =>
      (action === 'remove' ? api('DELETE', `/api/v1/listeners/${encodeURIComponent(l.id)}`) : api('POST', `/api/v1/listeners/${encodeURIComponent(l.id)}/${action}`)).then(refresh)
    if (action === 'start') {
      void run()
      return
    }
    const verb = {stop: 'Stop', restart: 'Restart', remove: 'Remove'}[action]
    setConfirm({
      title: `${verb} listener ${l.id}?`,
      message: (
        <p>
          {action === 'remove' ? 'The listener is stopped and removed. ' : action === 'restart' ? 'The listener closes its socket and binds it again. ' : 'The listener closes its socket. '}
          <b data-testid="confirm-count">{n > 0 ? `${clients} will be disconnected` : 'No client is connected to it'}</b>
          {n > 0 ? ' (MQTT 5 clients get DISCONNECT 0x8B, server shutting down).' : '.'} Other listeners are not affected.
        </p>
      ),
      action: verb,
      danger: action !== 'restart',
      run,
    })
  }
  return (
    <div>
      <Header title="Listeners" sub="Ports the broker accepts MQTT on. Changes apply at once; other listeners are untouched.">
        <button class="btn primary" onClick={() => setAdding(true)} data-testid="add-listener">
          Add listener
        </button>
      </Header>
      {error && <div class="alert error">{error}</div>}
      {adding && <AddListener onClose={() => setAdding(false)} onAdded={refresh} />}
      <section class="card flush">
        <table class="table" data-testid="listeners">
          <thead>
            <tr>
              <th>Listener</th>
              <th>State</th>
              <th class="num">Conns</th>
              <th class="num">Peak</th>
              <th class="num">Msgs in</th>
              <th class="num">Msgs out</th>
              <th class="num">Bytes in</th>
              <th class="num">Bytes out</th>
              <th class="num">WS frames</th>
              <th class="num">Rejects</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(data?.listeners ?? []).map((l) => {
              const r = history.listenerRates.get(l.id)
              const rejects = Object.entries(l.connections.rejected)
                .filter(([, v]) => v > 0)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')
              return (
                <tr key={l.id} data-listener={l.id}>
                  <td>
                    <div class="strong">{l.id}</div>
                    <div class="muted mono small">{l.url}</div>
                  </td>
                  <td data-testid="state">{stateBadge(l.state)}</td>
                  <td class="num">{l.connections.current}</td>
                  <td class="num">{l.connections.peak}</td>
                  <td class="num">
                    {fmtNumber(l.messages.published)}
                    {r && <div class="muted small">{fmtNumber(r.msgsIn)}/s</div>}
                  </td>
                  <td class="num">
                    {fmtNumber(l.messages.delivered)}
                    {r && <div class="muted small">{fmtNumber(r.msgsOut)}/s</div>}
                  </td>
                  <td class="num">
                    {fmtBytes(l.bytes.in)}
                    {r && <div class="muted small">{fmtBytes(r.bytesIn)}/s</div>}
                  </td>
                  <td class="num">
                    {fmtBytes(l.bytes.out)}
                    {r && <div class="muted small">{fmtBytes(r.bytesOut)}/s</div>}
                  </td>
                  <td class="num">{l.scheme === 'ws' || l.scheme === 'wss' ? `${fmtNumber(l.wsFrames.in)} / ${fmtNumber(l.wsFrames.out)}` : '–'}</td>
                  <td class="num" title={rejects}>
                    {l.connections.rejectedTotal}
                  </td>
                  <td class="actions">
                    {l.state === 'running' ? (
                      <>
                        <button class="btn small" onClick={() => act(l, 'stop')}>
                          Stop
                        </button>
                        <button class="btn small" onClick={() => act(l, 'restart')}>
                          Restart
                        </button>
                      </>
                    ) : (
                      <button class="btn small" onClick={() => act(l, 'start')}>
                        Start
                      </button>
                    )}
                    <button class="btn small ghost-danger" onClick={() => act(l, 'remove')}>
                      Remove
                    </button>
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
        {data && data.listeners.length === 0 && <Empty>No listeners. Add one to accept connections.</Empty>}
      </section>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(undefined)} />
    </div>
  )
}

function AddListener(props: {onClose: () => void; onAdded: () => void}): preact.JSX.Element {
  const [url, setUrl] = useState('ws://127.0.0.1:9001/mqtt')
  const [id, setId] = useState('')
  const [start, setStart] = useState(true)
  const [error, setError] = useState<string | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      await api('POST', '/api/v1/listeners', {url: url.trim(), ...(id.trim() ? {id: id.trim()} : {}), start})
      props.onAdded()
      props.onClose()
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="card form-card" onSubmit={submit} data-testid="add-form">
      <h2>Add a listener</h2>
      <div class="form-row">
        <label class="grow">
          URL
          <input name="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="ws://127.0.0.1:9001/mqtt" required />
          <span class="hint">mqtt://HOST:PORT, mqtts://…, ws://HOST:PORT/PATH or wss://…/PATH; port 0 picks a free one.</span>
        </label>
        <label>
          Id (optional)
          <input name="id" value={id} onInput={(e) => setId(e.currentTarget.value)} placeholder="SCHEME:PORT" />
        </label>
        <label class="check">
          <input type="checkbox" checked={start} onChange={(e) => setStart(e.currentTarget.checked)} /> Start now
        </label>
      </div>
      {error && <div class="alert error">{error}</div>}
      <div class="form-actions">
        <button type="button" class="btn" onClick={props.onClose}>
          Cancel
        </button>
        <button type="submit" class="btn primary" disabled={busy}>
          Add
        </button>
      </div>
    </form>
  )
}

// ---- Clients ----

interface Client {
  clientId: string
  connected: boolean
  username: string | null
  listener: string | null
  transport: string | null
  address: string | null
  protocol: string | null
  keepalive: number | null
  cleanStart: boolean | null
  sessionExpiry: number
  subscriptions: number
  inflight: number
  queued: number
  dropped: number
  connectedAt: string | null
  disconnectedAt: string | null
}

interface Subscription {
  clientId: string
  filter: string
  topic: string
  qos: number
  noLocal: boolean
  retainAsPublished: boolean
  retainHandling: number
  group?: string
}

function expiry(s: number): string {
  if (s === 0xffffffff) return 'never'
  if (s === 0) return 'with the connection'
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`
}

function Clients(): preact.JSX.Element {
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

function Subscriptions(): preact.JSX.Element {
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

// ---- Retained ----

interface RetainedRow {
  topic: string
  qos: number
  size: number
  expiresAt: string | null
}

function Retained(): preact.JSX.Element {
  const {data, error, refresh} = usePoll(() => api<{retained: RetainedRow[]}>('GET', '/api/v1/retained'), 3000)
  const [selected, setSelected] = useState<string | undefined>(undefined)
  const [q, setQ] = useState('')
  const [confirm, setConfirm] = useState<ConfirmRequest | undefined>(undefined)
  const all = data?.retained ?? []
  const clients = all.filter((m) => !m.topic.startsWith('$SYS/'))
  const list = all.filter((m) => q === '' || m.topic.includes(q))
  const del = (topic: string): void =>
    setConfirm({
      title: 'Delete retained message?',
      message: (
        <p>
          The retained message on <code>{topic}</code> is deleted; new subscribers no longer get it.
        </p>
      ),
      action: 'Delete',
      danger: true,
      run: () =>
        api('DELETE', `/api/v1/retained/${encodeURIComponent(topic)}`).then(() => {
          if (selected === topic) setSelected(undefined)
          refresh()
        }),
    })
  const clearAll = (): void =>
    setConfirm({
      title: 'Clear all retained messages?',
      message: (
        <p>
          <b>{clients.length} retained messages</b> stored by clients are deleted. This cannot be undone.
        </p>
      ),
      action: 'Clear all',
      danger: true,
      run: () =>
        api('DELETE', '/api/v1/retained').then(() => {
          setSelected(undefined)
          refresh()
        }),
    })
  return (
    <div>
      <Header title="Retained messages" sub={data ? `${clients.length} stored by clients · ${all.length - clients.length} $SYS` : undefined}>
        <input class="search" type="search" placeholder="Filter by topic" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <button class="btn ghost-danger" onClick={clearAll} disabled={clients.length === 0}>
          Clear all
        </button>
      </Header>
      {error && <div class="alert error">{error}</div>}
      <div class={selected ? 'split' : ''}>
        <section class="card flush">
          <table class="table clickable" data-testid="retained">
            <thead>
              <tr>
                <th>Topic</th>
                <th class="num">QoS</th>
                <th class="num">Size</th>
                <th>Expires</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((m) => (
                <tr key={m.topic} data-topic={m.topic} class={selected === m.topic ? 'selected' : ''} onClick={() => setSelected(m.topic)}>
                  <td class="mono strong">{m.topic}</td>
                  <td class="num">{m.qos}</td>
                  <td class="num">{fmtBytes(m.size)}</td>
                  <td class="small">{m.expiresAt ? fmtTime(m.expiresAt) : <span class="muted">never</span>}</td>
                  <td class="actions">
                    <button
                      class="btn small ghost-danger"
                      onClick={(e) => {
                        e.stopPropagation()
                        del(m.topic)
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {data && list.length === 0 && <Empty>No retained messages{q ? ' match' : ''}.</Empty>}
        </section>
        {selected && <RetainedDetail topic={selected} onClose={() => setSelected(undefined)} onDelete={del} />}
      </div>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(undefined)} />
    </div>
  )
}

function RetainedDetail(props: {topic: string; onClose: () => void; onDelete: (t: string) => void}): preact.JSX.Element {
  const [msg, setMsg] = useState<{payload: string; text: string | null; qos: number; size: number; contentType?: string} | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const [view, setView] = useState<PayloadView>('text')
  useEffect(() => {
    setMsg(undefined)
    api('GET', `/api/v1/retained/${encodeURIComponent(props.topic)}`).then(
      (m) => {
        setMsg(m)
        setError(undefined)
        let json = false
        try {
          json = m.text !== null && typeof JSON.parse(m.text) === 'object'
        } catch {}
        setView(m.text === null ? 'hex' : json ? 'json' : 'text')
      },
      (e: Error) => setError(e.message),
    )
  }, [props.topic])
  return (
    <aside class="card detail" data-testid="retained-detail">
      <div class="detail-head">
        <h2 class="mono">{props.topic}</h2>
        <button class="btn small" onClick={props.onClose} aria-label="Close">
          ✕
        </button>
      </div>
      {error && <div class="alert error">{error}</div>}
      {msg && (
        <>
          <div class="meta">
            QoS {msg.qos} · {fmtBytes(msg.size)}
            {msg.contentType && ` · ${msg.contentType}`}
          </div>
          <PayloadTabs view={view} onChange={setView} />
          <pre class="payload">{renderPayload(base64ToBytes(msg.payload), view)}</pre>
          <div class="form-actions">
            <button class="btn danger" onClick={() => props.onDelete(props.topic)}>
              Delete
            </button>
          </div>
        </>
      )}
    </aside>
  )
}

render(<App />, document.getElementById('app')!)
