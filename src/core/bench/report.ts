/**
 * `bench --report FILE.html`: one self-contained page (inline SVG and CSS, no scripts or
 * network), so it can be attached to a CI run and opened anywhere.
 */
import type {BenchResult, TransportResult} from './result.js'

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2']

function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function fmt(n: number): string {
  return n >= 1000 ? Math.round(n).toLocaleString('en-US') : String(n)
}

/** Deliveries (or sends) per second over time, one line per transport. */
function rateChart(results: TransportResult[]): string {
  const W = 720
  const H = 260
  const pad = {l: 70, r: 20, t: 20, b: 40}
  // Per-second rates; a last, partial interval is scaled by its length so the line does not dip.
  const series = results.map((r) => r.series.map((s) => (s.received || s.sent) / (s.dt > 0 ? s.dt : 1)))
  const maxY = Math.max(1, ...series.flat())
  const maxX = Math.max(1, ...series.map((s) => s.length))
  const x = (i: number): number => pad.l + (i / Math.max(1, maxX - 1)) * (W - pad.l - pad.r)
  const y = (v: number): number => H - pad.b - (v / maxY) * (H - pad.t - pad.b)
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = maxY * f
    return `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${pad.l - 8}" y="${y(v) + 4}" text-anchor="end">${esc(fmt(Math.round(v)))}</text>`
  })
  const lines = series.map((s, i) => {
    const pts = s.map((v, j) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
    return `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${pts}"/>`
  })
  const legend = results.map(
    (r, i) => `<rect x="${pad.l + i * 90}" y="${H - 16}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${pad.l + i * 90 + 16}" y="${H - 6}">${esc(r.transport)}</text>`,
  )
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="messages per second over time">${ticks.join('')}${lines.join('')}${legend.join('')}<text x="${W - pad.r}" y="${H - pad.b + 16}" text-anchor="end">seconds</text></svg>`
}

/** Latency percentiles as grouped bars. */
function latencyChart(results: TransportResult[]): string {
  const keys = ['p50_ms', 'p90_ms', 'p99_ms', 'p999_ms'] as const
  const W = 720
  const H = 240
  const pad = {l: 70, r: 20, t: 24, b: 40}
  const maxY = Math.max(0.001, ...results.flatMap((r) => keys.map((k) => r.latency[k])))
  const group = (W - pad.l - pad.r) / keys.length
  const bw = Math.min(40, (group - 20) / Math.max(1, results.length))
  const bars: string[] = []
  keys.forEach((k, g) => {
    results.forEach((r, i) => {
      const v = r.latency[k]
      const h = (v / maxY) * (H - pad.t - pad.b)
      const bx = pad.l + g * group + 10 + i * bw
      bars.push(`<rect x="${bx}" y="${H - pad.b - h}" width="${bw - 4}" height="${h}" fill="${COLORS[i % COLORS.length]}"><title>${esc(r.transport)} ${k}: ${v} ms</title></rect>`)
    })
    bars.push(`<text x="${pad.l + g * group + group / 2}" y="${H - pad.b + 18}" text-anchor="middle">${k.replace('_ms', '')}</text>`)
  })
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="latency percentiles"><line x1="${pad.l}" x2="${W - pad.r}" y1="${H - pad.b}" y2="${H - pad.b}" class="grid"/><text x="${pad.l}" y="${pad.t - 6}">max ${esc(maxY)} ms</text>${bars.join('')}</svg>`
}

function tableHtml(head: string[], rows: Array<Array<string | number>>, cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(typeof c === 'number' ? fmt(c) : c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

export function renderHtmlReport(result: BenchResult): string {
  const r = result.results
  const summary = tableHtml(
    ['transport', 'sent', 'received', 'lost', 'duplicates', 'msgs/s', 'deliveries/s', 'p50 ms', 'p99 ms', 'max ms'],
    r.map((t) => [t.transport, t.sent, t.received, t.lost, t.duplicates, t.msgs_per_s, t.recv_per_s, t.latency.p50_ms, t.latency.p99_ms, t.latency.max_ms]),
  )
  const bytes = tableHtml(
    ['transport', 'MQTT packet', 'client→broker', 'min', 'broker→client', 'min', 'note'],
    r.map((t) => [t.transport, t.overhead.mqtt_bytes, t.overhead.pub_wire_bytes, t.overhead.pub_min_bytes, t.overhead.sub_wire_bytes, t.overhead.sub_min_bytes, t.overhead.note]),
    'bytes',
  )
  const env = result.environment
  const settings = Object.entries(result.settings)
    .map(([k, v]) => `${esc(k)}=${esc(Array.isArray(v) ? v.join(',') : String(v))}`)
    .join(' · ')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mqttws bench: ${esc(result.scenario)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:820px;color:#111}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child,.bytes td:last-child,.bytes th:last-child{text-align:left}svg text{font-size:12px;fill:#333}.grid{stroke:#e5e7eb}
.meta{color:#555;font-size:12px}
</style></head><body>
<h1>mqttws bench — ${esc(result.scenario)}</h1>
<p class="meta">${esc(result.started)} · Node ${esc(env.node)} · ${esc(env.cpus)}× ${esc(env.cpu)} · ${esc(env.platform)}/${esc(env.arch)}</p>
<p class="meta">${settings}</p>
<h2>Summary</h2>${summary}
<h2>Messages per second</h2>${rateChart(r)}
<h2>Latency</h2>${latencyChart(r)}
<h2>Bytes on the wire per message</h2>${bytes}
</body></html>
`
}
