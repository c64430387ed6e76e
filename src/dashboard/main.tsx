/**
 * The mqttws dashboard: sign-in, Overview, Listeners, Clients, Subscriptions, Retained and
 * the WebSocket client (loaded on first use). Served by the admin API; talks to it with the
 * HttpOnly sign-in cookie. Hash routes (#/clients), so the server only serves files.
 */
import {render} from 'preact'
import {lazy, Suspense} from 'preact/compat'
import {useEffect, useState} from 'preact/hooks'
import type {Series} from './ui.js'
import {Header, LineChart, TRANSPORT_NAMES, api, auth, fmtBytes, fmtNumber} from './ui.js'
import {Clients, Subscriptions} from './clients.js'
import {Listeners} from './listeners.js'
import {Retained} from './retained.js'
import {Cluster} from './cluster.js'
import {SPAN, history, useSampler} from './samples.js'

const WsClientPage = lazy(() => import('./wsclient.js').then((m) => m.WsClientPage))


// ---- routing and shell ----

const PAGES = [
  ['overview', 'Overview'],
  ['listeners', 'Listeners'],
  ['clients', 'Clients'],
  ['subscriptions', 'Subscriptions'],
  ['retained', 'Retained'],
  ['cluster', 'Cluster'],
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
  cluster: 'M12 3a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM5 15a3 3 0 1 0 0 6 3 3 0 0 0 0-6zm14 0a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM12 9v3m0 0-5 3.5m5-3.5 5 3.5',
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
        {page === 'cluster' && <Cluster />}
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

render(<App />, document.getElementById('app')!)
