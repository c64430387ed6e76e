/** Shared pieces of the dashboard: the API client, formatting, a line chart, a confirmation dialog. */
import type {ComponentChildren} from 'preact'
import {useEffect, useRef, useState} from 'preact/hooks'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Called when the API says 401: the app shows the sign-in page. */
export const auth = {onUnauthorized: (): void => {}}

/** One admin API call, signed in by the HttpOnly cookie (the token never reaches this script's memory after sign-in). */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {Accept: 'application/json'} : {Accept: 'application/json', 'Content-Type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let data: any
  try {
    data = text ? JSON.parse(text) : undefined
  } catch {
    data = undefined
  }
  if (res.status === 401 && path !== '/api/v1/session') auth.onUnauthorized()
  if (!res.ok) throw new ApiError(res.status, data?.error?.code ?? 'error', data?.error?.message ?? `HTTP ${res.status}`)
  return data as T
}

/** Polls `f` every `ms` while mounted; returns the latest value and error. */
export function usePoll<T>(f: () => Promise<T>, ms: number, deps: unknown[] = []): {data: T | undefined; error: string | undefined; refresh: () => void} {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    let timer: number | undefined
    const run = async (): Promise<void> => {
      try {
        const v = await f()
        if (live) {
          setData(v)
          setError(undefined)
        }
      } catch (e) {
        if (live) setError((e as Error).message)
      }
      if (live) timer = window.setTimeout(run, ms)
    }
    void run()
    return () => {
      live = false
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [...deps, tick])
  return {data, error, refresh: () => setTick((t) => t + 1)}
}

export function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return '–'
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(1)} G`
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(1)} M`
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)} k`
  return Number.isInteger(n) ? String(n) : n.toFixed(1)
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return '–'
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${Math.round(n)} B`
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '–'
  const d = new Date(iso)
  return d.toLocaleString(undefined, {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'})
}

export const TRANSPORT_NAMES: Record<string, string> = {mqtt: 'TCP', mqtts: 'TLS', ws: 'WS', wss: 'WSS', tcp: 'TCP', tls: 'TLS'}

export interface Series {
  name: string
  color: string
  values: number[]
}

/** A line chart of the last samples (one a second), drawn as SVG. */
export function LineChart(props: {series: Series[]; height?: number; format?: (n: number) => string; span?: number}): preact.JSX.Element {
  const h = props.height ?? 160
  const w = 600
  const span = props.span ?? 300
  let max = 0
  for (const s of props.series) for (const v of s.values) if (v > max) max = v
  const top = niceCeil(max)
  const fmt = props.format ?? fmtNumber
  const points = (values: number[]): string => {
    const n = values.length
    return values.map((v, i) => `${(((span - n + i) / (span - 1)) * w).toFixed(1)},${(h - (v / top) * (h - 8) - 4).toFixed(1)}`).join(' ')
  }
  return (
    <div class="chart">
      <div class="chart-axis">
        <span>{fmt(top)}</span>
        <span>{fmt(top / 2)}</span>
        <span>0</span>
      </div>
      <div class="chart-plot">
        <svg viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" style={{height: `${h}px`}}>
          <line x1="0" x2={w} y1={h / 2} y2={h / 2} class="grid" />
          <line x1="0" x2={w} y1={4} y2={4} class="grid" />
          {props.series.map((s) => (
            <polyline key={s.name} points={points(s.values)} fill="none" stroke={s.color} stroke-width="2" vector-effect="non-scaling-stroke" stroke-linejoin="round" />
          ))}
        </svg>
        <div class="chart-legend">
          {props.series.map((s) => (
            <span key={s.name}>
              <i style={{background: s.color}} />
              {s.name} <b>{fmt(s.values.at(-1) ?? 0)}</b>
            </span>
          ))}
          <span class="muted">last {Math.round(span / 60)} min</span>
        </div>
      </div>
    </div>
  )
}

function niceCeil(v: number): number {
  if (v <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

export interface ConfirmRequest {
  title: string
  message: ComponentChildren
  action: string
  danger?: boolean
  run: () => Promise<unknown>
}

/** A modal confirmation; shows the error if the action fails. */
export function ConfirmDialog(props: {request: ConfirmRequest | undefined; onClose: () => void}): preact.JSX.Element | null {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const button = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    setError(undefined)
    setBusy(false)
    button.current?.focus()
  }, [props.request])
  const r = props.request
  if (r === undefined) return null
  const go = async (): Promise<void> => {
    setBusy(true)
    try {
      await r.run()
      props.onClose()
    } catch (e) {
      setError((e as Error).message)
      setBusy(false)
    }
  }
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-label={r.title}>
        <h3>{r.title}</h3>
        <div class="modal-body">{r.message}</div>
        {error && <div class="alert error">{error}</div>}
        <div class="modal-actions">
          <button class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button ref={button} class={`btn ${r.danger ? 'danger' : 'primary'}`} disabled={busy} onClick={go} data-testid="confirm">
            {r.action}
          </button>
        </div>
      </div>
    </div>
  )
}

export function Badge(props: {kind: 'ok' | 'warn' | 'off' | 'info'; children: ComponentChildren}): preact.JSX.Element {
  return <span class={`badge ${props.kind}`}>{props.children}</span>
}

export function Empty(props: {children: ComponentChildren}): preact.JSX.Element {
  return <div class="empty">{props.children}</div>
}

/** Payload views: text, JSON (pretty), hex, base64. */
export type PayloadView = 'text' | 'json' | 'hex' | 'base64'

export function renderPayload(bytes: Uint8Array, view: PayloadView): string {
  switch (view) {
    case 'hex': {
      const lines: string[] = []
      for (let i = 0; i < bytes.length; i += 16) {
        const row = [...bytes.subarray(i, i + 16)]
        const hex = row.map((b) => b.toString(16).padStart(2, '0')).join(' ')
        const ascii = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')
        lines.push(`${i.toString(16).padStart(6, '0')}  ${hex.padEnd(47)}  ${ascii}`)
      }
      return lines.join('\n')
    }
    case 'base64': {
      let s = ''
      for (const b of bytes) s += String.fromCharCode(b)
      return btoa(s)
    }
    case 'json': {
      const text = new TextDecoder().decode(bytes)
      try {
        return JSON.stringify(JSON.parse(text), null, 2)
      } catch {
        return `(not JSON) ${text}`
      }
    }
    default:
      return new TextDecoder().decode(bytes)
  }
}

export function PayloadTabs(props: {view: PayloadView; onChange: (v: PayloadView) => void}): preact.JSX.Element {
  return (
    <div class="seg" role="tablist">
      {(['text', 'json', 'hex', 'base64'] as const).map((v) => (
        <button key={v} class={props.view === v ? 'on' : ''} onClick={() => props.onChange(v)} role="tab" aria-selected={props.view === v}>
          {v === 'json' ? 'JSON' : v === 'base64' ? 'Base64' : v === 'hex' ? 'Hex' : 'Text'}
        </button>
      ))}
    </div>
  )
}

export function base64ToBytes(b64: string): Uint8Array {
  const s = atob(b64)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

export function Header(props: {title: string; sub?: ComponentChildren; children?: ComponentChildren}): preact.JSX.Element {
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


export type Qos = 0 | 1 | 2

/** The QoS 0/1/2 choice of the publish and subscribe forms. */
export function QosSelect(props: {value: Qos; onChange: (q: Qos) => void; name: string; label?: string}): preact.JSX.Element {
  return (
    <select value={String(props.value)} onChange={(e) => props.onChange(Number(e.currentTarget.value) as Qos)} aria-label={props.label ?? 'QoS'} name={props.name}>
      <option value="0">QoS 0</option>
      <option value="1">QoS 1</option>
      <option value="2">QoS 2</option>
    </select>
  )
}
