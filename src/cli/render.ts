/** All terminal styling lives here (the only chalk importer). */
import {stripVTControlCharacters} from 'node:util'
import chalk from 'chalk'
import type {ListenerInfo} from '../core/transport/types.js'

const SCHEME_LABEL: Record<string, string> = {
  mqtt: 'MQTT over TCP',
  mqtts: 'MQTT over TLS',
  ws: 'MQTT over WebSocket',
  wss: 'MQTT over secure WebSocket',
}

export function renderListening(listeners: readonly ListenerInfo[], devCertFile?: string): string {
  const lines = [chalk.bold('mqttws broker ready') + chalk.dim(' (MQTT 3.1, 3.1.1 and 5.0)')]
  const width = Math.max(...listeners.map((l) => l.url.length))
  for (const l of listeners) lines.push(`  ${chalk.cyan(l.url.padEnd(width))}  ${chalk.dim(SCHEME_LABEL[l.scheme] ?? l.scheme)}`)
  if (devCertFile) {
    lines.push(
      chalk.yellow(`  self-signed development certificate: ${devCertFile}`),
      chalk.dim('  (clients: trust it as CA, e.g. mosquitto_sub --cafile, or skip verification with --insecure)'),
    )
  }
  return lines.join('\n')
}

/** The last line serve prints on start. */
export function renderStopHint(): string {
  return chalk.dim('Press Ctrl-C to stop.')
}

/** One JSON line per listener, for scripts and tests (`serve --json`). */
export function listeningJson(l: ListenerInfo): string {
  return JSON.stringify({event: 'listening', id: l.id, scheme: l.scheme, host: l.host, port: l.port, url: l.url, ...(l.path ? {path: l.path} : {})})
}

// ---- bench ----

/** Columns a string takes on a terminal: its colour codes take none. */
export function displayWidth(s: string): number {
  return stripVTControlCharacters(s).length
}

/**
 * At most `width` columns of `s` (colour codes kept, and reset after a cut): a live line
 * rewritten with \r must not wrap, since \r goes back to the start of the last row only.
 */
export function fitWidth(s: string, width: number): string {
  if (displayWidth(s) <= width) return s
  let out = ''
  let shown = 0
  for (let i = 0; i < s.length && shown < width; ) {
    const esc = s.charCodeAt(i) === 0x1b ? /^.\[[0-9;]*m/.exec(s.slice(i)) : null
    if (esc) {
      out += esc[0]
      i += esc[0].length
      continue
    }
    out += s[i++]
    shown++
  }
  return `${out}\u001B[0m`
}

function pad(s: string, width: number, left: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)))
  return left ? s + fill : fill + s
}

export interface TableOptions {
  /** Column alignment ('l' or 'r'); default: the first left, the rest right. */
  align?: Array<'l' | 'r'>
  /** Fit this many terminal columns by leaving out `drop` columns (by index, first dropped first). */
  maxWidth?: number
  drop?: number[]
  /** Widths seen before (a refreshing view): columns never get narrower, so they do not jitter. Updated in place. */
  keep?: number[]
}

/** A plain aligned table (no box drawing, so it pastes into issues and CI logs). */
export function table(head: string[], rows: Array<Array<string | number>>, options: TableOptions | Array<'l' | 'r'> = {}): string {
  const o: TableOptions = Array.isArray(options) ? {align: options} : options
  const cells = [head, ...rows.map((r) => r.map(String))]
  const widths = head.map((_, c) => Math.max(o.keep?.[c] ?? 0, ...cells.map((r) => displayWidth(r[c] ?? ''))))
  if (o.keep) for (let c = 0; c < widths.length; c++) o.keep[c] = widths[c]
  let shown = head.map((_, c) => c)
  const total = (cols: number[]): number => cols.reduce((sum, c) => sum + widths[c], 0) + 2 * (cols.length - 1)
  for (const c of o.drop ?? []) {
    if (o.maxWidth === undefined || total(shown) <= o.maxWidth) break
    shown = shown.filter((x) => x !== c)
  }
  const line = (r: string[], style: (s: string) => string = (s) => s): string =>
    shown.map((c) => style(pad(r[c] ?? '', widths[c], (o.align?.[c] ?? (c === 0 ? 'l' : 'r')) === 'l'))).join('  ').trimEnd()
  return [line(cells[0], chalk.bold), ...cells.slice(1).map((r) => line(r))].join('\n')
}

const SPARKS = '▁▂▃▄▅▆▇█'

/** One character per second: the rate over time at a glance. */
export function sparkline(values: number[]): string {
  const max = Math.max(...values, 1)
  return values.map((v) => SPARKS[Math.min(SPARKS.length - 1, Math.floor((v / max) * (SPARKS.length - 1)))]).join('')
}

function num(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : String(n)
}

export interface BenchTableInput {
  scenario: string
  results: Array<{
    transport: string
    sent: number
    received: number
    lost: number
    duplicates: number
    msgs_per_s: number
    recv_per_s: number
    latency: {p50_ms: number; p90_ms: number; p99_ms: number; p999_ms: number; max_ms: number}
    overhead: {mqtt_bytes: number; pub_wire_bytes: number; sub_wire_bytes: number; pub_min_bytes: number; sub_min_bytes: number; deflate?: boolean; topic_alias_bytes_saved?: number; sub_wire_bytes_without_aliases?: number}
    connects?: number
    connects_per_s?: number
    connect_failures?: Record<string, number>
    auth_latency?: {p50_ms: number; p99_ms: number}
    broker_bytes_per_connection?: number
    broker_cpu_per_connect_us?: number
    /** Deliveries expected (sent × subscribers), when known. */
    expected?: number
    series: Array<{dt: number; sent: number; received: number}>
  }>
}

export function renderBenchResult(r: BenchTableInput): string {
  if (r.scenario === 'conn') {
    return table(
      ['transport', 'attempted', 'connected', 'failed', 'connects/s', 'p50 ms', 'p99 ms', 'auth p50 ms', 'auth p99 ms', 'broker KiB/conn', 'broker µs/connect'],
      r.results.map((t) => [
        t.transport,
        num(t.sent),
        num(t.connects ?? 0),
        Object.entries(t.connect_failures ?? {}).map(([k, v]) => `${v} ${k}`).join(', ') || '0',
        num(t.connects_per_s ?? 0),
        t.latency.p50_ms,
        t.latency.p99_ms,
        t.auth_latency?.p50_ms ?? '-',
        t.auth_latency?.p99_ms ?? '-',
        t.broker_bytes_per_connection === undefined ? '-' : (t.broker_bytes_per_connection / 1024).toFixed(1),
        t.broker_cpu_per_connect_us ?? '-',
      ]),
    )
  }
  const base = r.results[0]
  // "vs first" compares transports: with one there is nothing to compare.
  const several = r.results.length > 1
  const lines = [
    table(
      ['transport', 'sent', 'received', 'lost', 'dup', 'msgs/s', 'deliveries/s', ...(several ? ['vs first'] : []), 'p50 ms', 'p99 ms', 'max ms'],
      r.results.map((t) => [
        t.transport,
        num(t.sent),
        num(t.received),
        t.lost > 0 ? chalk.red(String(t.lost)) : '0',
        t.duplicates,
        num(t.msgs_per_s),
        num(t.recv_per_s),
        ...(several ? [base.recv_per_s > 0 ? `${(t.recv_per_s / base.recv_per_s).toFixed(2)}×` : '-'] : []),
        t.latency.p50_ms,
        t.latency.p99_ms,
        t.latency.max_ms,
      ]),
    ),
    // A broker that dropped messages was driven past what it sustains: its rate is no figure to rank.
    ...r.results.filter((t) => t.lost > 0).map((t) => chalk.red(`${t.transport}: lost ${num(t.lost)} of ${num(t.expected ?? t.received - t.duplicates + t.lost)}: the broker dropped messages; this rate is not comparable`)),
    '',
    chalk.bold('Bytes on the wire per message') + chalk.dim(' (counted at the TCP socket; min = one packet per frame/record)'),
    table(
      ['transport', 'MQTT packet', 'client→broker', 'min', 'broker→client', 'min'],
      r.results.map((t) => [
        t.overhead.deflate ? `${t.transport} (deflate)` : t.transport,
        t.overhead.mqtt_bytes,
        t.overhead.pub_wire_bytes,
        t.overhead.pub_min_bytes,
        t.overhead.sub_wire_bytes,
        t.overhead.sub_min_bytes,
      ]),
    ),
    ...r.results.flatMap((t) =>
      t.overhead.topic_alias_bytes_saved === undefined
        ? []
        : [`${t.transport}: topic aliases saved ${num(t.overhead.topic_alias_bytes_saved)} bytes broker→client (${t.overhead.sub_wire_bytes_without_aliases} bytes per delivery without them)`],
    ),
  ]
  lines.push('', chalk.bold('Latency distribution') + chalk.dim(' (ms, bar length relative to the largest)'))
  lines.push(latencyBars(r.results))
  const withSeries = r.results.filter((t) => t.series.length > 1)
  if (withSeries.length > 0) {
    lines.push('', chalk.bold('Deliveries per second'))
    for (const t of withSeries) lines.push(`${t.transport.padEnd(4)} ${sparkline(t.series.map((s) => (s.received || s.sent) / (s.dt > 0 ? s.dt : 1)))}`)
  }
  return lines.join('\n')
}

/** p50 … max of every transport as horizontal bars on one scale. */
function latencyBars(results: BenchTableInput['results']): string {
  const keys = ['p50_ms', 'p90_ms', 'p99_ms', 'p999_ms', 'max_ms'] as const
  const max = Math.max(0.001, ...results.flatMap((t) => keys.map((k) => t.latency[k])))
  const width = 40
  const out: string[] = []
  for (const t of results) {
    for (const k of keys) {
      const v = t.latency[k]
      const bar = '█'.repeat(Math.max(v > 0 ? 1 : 0, Math.round((v / max) * width)))
      out.push(`${(k === 'p50_ms' ? t.transport : '').padEnd(4)} ${k.replace('_ms', '').padStart(5)} ${chalk.cyan(bar)} ${v}`)
    }
  }
  return out.join('\n')
}

export function renderProgress(p: {transport: string; phase: string; elapsed_s: number; sent: number; received: number; rate: number}): string {
  return `${chalk.cyan(p.transport.padEnd(4))} ${p.phase.padEnd(7)} ${p.elapsed_s.toFixed(1).padStart(6)} s  sent ${num(p.sent).padStart(11)}  received ${num(p.received).padStart(11)}  ${num(p.rate).padStart(9)}/s`
}

export function renderAssertions(results: Array<{text: string; ok: boolean; detail: string}>): string {
  return results.map((a) => `${a.ok ? chalk.green('✓ pass') : chalk.red('✗ FAIL')}  ${a.text}${a.detail ? chalk.dim(`  (${a.detail})`) : ''}`).join('\n')
}

// ---- listeners and the admin API ----

/** Where the dashboard and the admin API are, and where the token is kept — not the token itself (terminals get recorded and shared). */
export function renderAdmin(a: {url: string; tokenFile: string; dashboard?: string}): string {
  const width = Math.max(a.url.length, a.dashboard?.length ?? 0)
  return [
    ...(a.dashboard ? [`  ${chalk.cyan(a.dashboard.padEnd(width))}  ${chalk.dim('dashboard (sign in with the admin token)')}`] : []),
    `  ${chalk.cyan(a.url.padEnd(width))}  ${chalk.dim('admin API (mqttws listeners, mqttws clients)')}`,
    chalk.dim(`  admin token in ${a.tokenFile} (mode 0600)`),
  ].join('\n')
}

/** The admin API line of `serve --json`. */
export function adminJson(a: {url: string; port: number; host: string; token: string; tokenFile: string; dashboard?: string}): string {
  return JSON.stringify({event: 'admin', url: a.url, host: a.host, port: a.port, token: a.token, tokenFile: a.tokenFile, ...(a.dashboard ? {dashboard: a.dashboard} : {})})
}

/** What `mqttws listeners` shows per listener (a subset of the API's JSON). */
export interface ListenerRow {
  id: string
  url: string
  state: string
  connections: {current: number; peak: number; rejectedTotal: number; rejected: Record<string, number>; authFailures?: Record<string, number>}
  messages: {published: number; delivered: number}
  bytes: {in: number; out: number}
  /** PUBLISH over a client's rate (limits.messageRate/byteRate): QoS 0 dropped, QoS 1/2 refused. */
  rateLimited?: {dropped: number; refused: number}
  /** Refused by authorization: PUBLISHes, subscriptions, deliveries. */
  denied?: {publish: number; subscribe: number; delivery: number}
}

/** " (N over rate, M denied)" after the messages in: PUBLISHes over a client's rate, PUBLISHes and subscriptions authorization refused. */
function overRate(l: ListenerRow): string {
  const n = (l.rateLimited?.dropped ?? 0) + (l.rateLimited?.refused ?? 0)
  const d = (l.denied?.publish ?? 0) + (l.denied?.subscribe ?? 0)
  const parts = [...(n === 0 ? [] : [`${n} over rate`]), ...(d === 0 ? [] : [`${d} denied`])]
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

/** " (N denied)" after the messages out: deliveries authorization refused. */
function deniedOut(l: ListenerRow): string {
  const n = l.denied?.delivery ?? 0
  return n === 0 ? '' : ` (${n} denied)`
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

function rejects(r: ListenerRow['connections']): string {
  if (r.rejectedTotal === 0) return '0'
  const parts = Object.entries(r.rejected).filter(([, v]) => v > 0).map(([k, v]) => `${v} ${k}`)
  return `${r.rejectedTotal} (${parts.join(', ')})`
}

/** Per-second rates between two samples, by listener id. */
export type ListenerRates = Map<string, {msgsIn: number; msgsOut: number; bytesIn: number; bytesOut: number}>

/** One line under the listeners table: how clients are authenticated (GET /api/v1/auth). */
export function renderAuthLine(auth: unknown): string {
  const a = auth as {allowAnonymous?: boolean; authenticators?: Array<{type?: string; id?: string; users?: number}>} | undefined
  if (a === undefined || !Array.isArray(a.authenticators)) return chalk.dim('authentication: custom (library)')
  const a2 = a as {authenticators: Array<{type?: string; id?: string; users?: number; scramUsers?: number}>}
  const chain = a2.authenticators.map((x) => `${x.id ?? x.type}${x.users === undefined ? '' : ` (${x.users} users${x.scramUsers ? `, ${x.scramUsers} with SCRAM` : ''})`}`)
  if (chain.length === 0) return `authentication: ${a.allowAnonymous ? chalk.yellow('none, anonymous allowed') : 'none (loopback listeners only)'}`
  return `authentication: ${chain.join(' → ')}${a.allowAnonymous ? ', anonymous allowed' : ''}`
}

/** Lines under the listeners table: authentication failures per listener by reason (CONNECT refusals, WebSocket tokens refused at the upgrade); none when there are none. */
export function renderAuthFailures(rows: readonly ListenerRow[]): string[] {
  const lines: string[] = []
  for (const r of rows) {
    const by: Record<string, number> = {...r.connections.authFailures}
    if ((r.connections.rejected.token ?? 0) > 0) by['invalid-token (upgrade)'] = r.connections.rejected.token
    if ((r.connections.rejected['auth-backend'] ?? 0) > 0) by['backend-down (upgrade)'] = r.connections.rejected['auth-backend']
    const parts = Object.entries(by).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`)
    if (parts.length > 0) lines.push(`auth failures on ${r.id}: ${parts.join(', ')}`)
  }
  return lines
}

/**
 * The `mqttws listeners` table; with rates (--watch) each counter gets its per-second rate.
 * On a narrow terminal the less telling columns go first (peak, bytes, rejects, msgs out).
 */
export function renderListenersTable(rows: readonly ListenerRow[], rates?: ListenerRates, fit: {maxWidth?: number; keep?: number[]} = {}): string {
  if (rows.length === 0) return chalk.dim('no listeners (add one with `mqttws listeners add URL`)')
  const state = (s: string): string => (s === 'running' ? chalk.green(s) : chalk.yellow(s))
  const rate = (v: number, r: number | undefined, fmt: (n: number) => string): string => (r === undefined ? fmt(v) : `${fmt(v)} (${fmt(Math.round(r))}/s)`)
  return table(
    ['id', 'url', 'state', 'conns', 'peak', 'msgs in', 'msgs out', 'bytes in', 'bytes out', 'rejects'],
    rows.map((l) => {
      const r = rates?.get(l.id)
      return [
        l.id,
        l.url,
        state(l.state),
        l.connections.current,
        l.connections.peak,
        rate(l.messages.published, r?.msgsIn, String) + overRate(l),
        rate(l.messages.delivered, r?.msgsOut, String) + deniedOut(l),
        rate(l.bytes.in, r?.bytesIn, bytes),
        rate(l.bytes.out, r?.bytesOut, bytes),
        rejects(l.connections),
      ]
    }),
    {align: ['l', 'l', 'l'], maxWidth: fit.maxWidth, drop: [4, 9, 8, 7, 6], keep: fit.keep},
  )
}

/** One plain line per listener per tick (`--watch` when stdout is not a terminal). */
export function renderListenerLine(time: string, l: ListenerRow, rates?: ListenerRates): string {
  const r = rates?.get(l.id)
  const rt = r ? ` msgs_in_per_s=${Math.round(r.msgsIn)} msgs_out_per_s=${Math.round(r.msgsOut)} bytes_in_per_s=${Math.round(r.bytesIn)} bytes_out_per_s=${Math.round(r.bytesOut)}` : ''
  return `${time} ${l.id} ${l.state} conns=${l.connections.current} msgs_in=${l.messages.published} msgs_out=${l.messages.delivered} bytes_in=${l.bytes.in} bytes_out=${l.bytes.out} rejects=${l.connections.rejectedTotal}${rt}`
}

/** After add/stop/start/restart/remove. */
export function renderListenerChange(verb: string, l: {id: string; url: string; state: string}): string {
  return `${chalk.bold(verb)} listener ${chalk.cyan(l.id)} ${l.url} (${l.state === 'running' ? chalk.green(l.state) : chalk.yellow(l.state)})`
}

export interface ClientRow {
  clientId: string
  connected: boolean
  username: string | null
  listener: string | null
  address: string | null
  protocol: string | null
  keepalive: number | null
  subscriptions: number
  inflight: number
  queued: number
  connectedAt: string | null
}

/** `mqttws clients`: connected clients first, then offline sessions. */
export function renderClientsTable(rows: readonly ClientRow[]): string {
  if (rows.length === 0) return chalk.dim('no clients and no offline sessions')
  return table(
    ['client id', 'state', 'user', 'listener', 'address', 'protocol', 'keepalive', 'subs', 'inflight', 'queued', 'connected at'],
    rows.map((c) => [
      c.clientId,
      c.connected ? chalk.green('connected') : chalk.yellow('offline'),
      c.username ?? '',
      c.listener ?? '',
      c.address ?? '',
      c.protocol ?? '',
      c.keepalive ?? '',
      c.subscriptions,
      c.inflight,
      c.queued,
      c.connectedAt ?? '',
    ]),
    ['l', 'l', 'l', 'l', 'l', 'l'],
  )
}
