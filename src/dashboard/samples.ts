/** Live samples for the overview and the listeners' rates, kept while signed in, whatever page is shown. */
import {useEffect, useState} from 'preact/hooks'
import {api} from './ui.js'

// ---- live samples for the overview (kept while signed in, whatever page is shown) ----

export interface Listener {
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

export interface Metrics {
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

export interface Sample {
  at: number
  listeners: Listener[]
  metrics: Metrics
}

export interface Rates {
  msgsIn: number
  msgsOut: number
  bytesIn: number
  bytesOut: number
}

export const SPAN = 300
export const history: {samples: Sample[]; rates: Rates[]; byTransport: Map<string, Rates[]>; listenerRates: Map<string, Rates>} = {
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

export function useSampler(active: boolean): number {
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
