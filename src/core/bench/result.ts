/** The figures a bench run produces, per transport, and their flat names for --assert and CSV. */
import type {Percentiles} from './latency.js'
import type {BenchTransport, Scenario} from './plan.js'

export interface LatencySummary {
  count: number
  p50_ms: number
  p90_ms: number
  p99_ms: number
  p999_ms: number
  max_ms: number
  mean_ms: number
}

export interface OverheadSummary {
  /** Encoded MQTT PUBLISH size for one bench message. */
  mqtt_bytes: number
  /** Wire bytes per message from the publishers to the broker (TCP payload: TLS and WS framing included). */
  pub_wire_bytes: number
  /** Wire bytes per message from the broker to the subscribers. */
  sub_wire_bytes: number
  /** Smallest possible wire bytes for one message, each way, when framing is per packet. */
  pub_min_bytes: number
  sub_min_bytes: number
  /** How the minimum is made up, for humans. */
  note: string
  /** --topic-alias-max: wire bytes the broker's topic aliases saved over the run (net of the deliveries that announced an alias). */
  topic_alias_bytes_saved?: number
  /** …and the wire bytes per delivery there would have been without them (sub_wire_bytes is with). */
  sub_wire_bytes_without_aliases?: number
  /** permessage-deflate was negotiated (the minimum then does not apply: compression can go below it). */
  deflate?: boolean
}

export interface TransportResult {
  transport: BenchTransport
  /** The broker measured (the first one, with several). */
  url: string
  /** Every broker the clients were spread over, round-robin (bench -L URL -L URL… of one transport). */
  urls?: string[]
  sent: number
  received: number
  /** Deliveries expected but not seen (sent × subscribers for fan-out). */
  lost: number
  /** Deliveries expected: sent × subscribers (0 without publishers or subscribers). */
  expected?: number
  duplicates: number
  /** Publish acknowledgements (QoS 1/2) that failed or never came. */
  pub_errors: number
  elapsed_s: number
  msgs_per_s: number
  /** Deliveries per second (received / elapsed). */
  recv_per_s: number
  latency: LatencySummary
  overhead: OverheadSummary
  /** conn scenario. */
  connects?: number
  connect_failures?: Record<string, number>
  connects_per_s?: number
  /** conn: CONNECT → CONNACK per connection (the broker's authentication and session set-up), without dialing and TLS/WebSocket handshakes. */
  auth_latency?: LatencySummary
  /** conn against a local broker: its resident memory before and with every connection open. */
  broker_rss_before?: number
  broker_rss_after?: number
  broker_bytes_per_connection?: number
  /** conn against a local broker: its CPU time (user + system) over the connect phase, per connection, in µs (Linux /proc, 10 ms resolution). */
  broker_cpu_per_connect_us?: number
  /** Where the load generator ran: threads for the publishers and for the subscribers (0: the main thread). */
  generator_threads?: {publishers: number; subscribers: number}
  /** Sent and received counts per interval of `dt` seconds (about 1 s; the last may be shorter), ending at `t`. */
  series: Array<{t: number; dt: number; sent: number; received: number}>
}

export interface BenchResult {
  tool: 'mqttws bench'
  version: 1
  scenario: Scenario
  started: string
  environment: {node: string; platform: string; arch: string; cpus: number; cpu: string}
  settings: Record<string, unknown>
  results: TransportResult[]
  /** --selftest: the same plan against a trivial relay, i.e. the generator's own ceiling. */
  ceiling?: TransportResult[]
  /** Things that make the figures less trustworthy (e.g. the broker near the generator's ceiling). */
  warnings?: string[]
  /** --assert and --baseline outcomes. */
  checks?: Array<{text: string; ok: boolean; detail: string}>
}

const NS_PER_MS = 1e6

export function summarize(h: Percentiles): LatencySummary {
  if (h.count === 0) return {count: 0, p50_ms: 0, p90_ms: 0, p99_ms: 0, p999_ms: 0, max_ms: 0, mean_ms: 0}
  const ms = (ns: number): number => Math.round((ns / NS_PER_MS) * 1000) / 1000
  return {
    count: h.count,
    p50_ms: ms(h.percentile(50)),
    p90_ms: ms(h.percentile(90)),
    p99_ms: ms(h.percentile(99)),
    p999_ms: ms(h.percentile(99.9)),
    max_ms: ms(h.max),
    mean_ms: ms(h.mean),
  }
}

/** The figures --assert can name (bare: the first transport's; `tcp.…`: one transport's); some only in some runs. */
export const ASSERT_FIGURES = [
  'sent', 'received', 'lost', 'duplicates', 'pub_errors', 'msgs_per_s', 'recv_per_s', 'elapsed_s',
  'p50_ms', 'p90_ms', 'p99_ms', 'p999_ms', 'max_ms', 'mean_ms', 'mqtt_bytes', 'pub_wire_bytes', 'sub_wire_bytes',
  /** conn only. */
  'connects_per_s', 'connects',
  /** conn with a known broker process. */
  'broker_bytes_per_connection', 'broker_cpu_per_connect_us',
] as const

/**
 * Flat variables for --assert: `msgs_per_s`, `p99_ms`, `lost`… of the first transport,
 * and `tcp.msgs_per_s`, `ws.p99_ms`… of each.
 */
export function assertionScope(result: BenchResult): Record<string, number> {
  const scope: Record<string, number> = {}
  const flat = (r: TransportResult): Record<string, number> => ({
    sent: r.sent,
    received: r.received,
    lost: r.lost,
    duplicates: r.duplicates,
    pub_errors: r.pub_errors,
    msgs_per_s: r.msgs_per_s,
    recv_per_s: r.recv_per_s,
    elapsed_s: r.elapsed_s,
    p50_ms: r.latency.p50_ms,
    p90_ms: r.latency.p90_ms,
    p99_ms: r.latency.p99_ms,
    p999_ms: r.latency.p999_ms,
    max_ms: r.latency.max_ms,
    mean_ms: r.latency.mean_ms,
    mqtt_bytes: r.overhead.mqtt_bytes,
    pub_wire_bytes: r.overhead.pub_wire_bytes,
    sub_wire_bytes: r.overhead.sub_wire_bytes,
    ...(r.connects_per_s === undefined ? {} : {connects_per_s: r.connects_per_s, connects: r.connects ?? 0}),
    ...(r.broker_bytes_per_connection === undefined ? {} : {broker_bytes_per_connection: r.broker_bytes_per_connection}),
    ...(r.broker_cpu_per_connect_us === undefined ? {} : {broker_cpu_per_connect_us: r.broker_cpu_per_connect_us}),
  })
  result.results.forEach((r, i) => {
    const f = flat(r)
    for (const [k, v] of Object.entries(f)) {
      // Also as the --json document spells them (recvPerS): either name works.
      for (const name of new Set([k, camelFigure(k)])) {
        scope[`${r.transport}.${name}`] = v
        if (i === 0) scope[name] = v
      }
    }
  })
  return scope
}

/** recv_per_s → recvPerS: a figure as bench's --json document names it (json.ts). */
export function camelFigure(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())
}

/** One CSV row per transport with the headline figures. */
export function toCsv(result: BenchResult): string {
  const cols = ['transport', 'sent', 'received', 'lost', 'duplicates', 'msgs_per_s', 'recv_per_s', 'p50_ms', 'p99_ms', 'max_ms', 'mqtt_bytes', 'pub_wire_bytes', 'sub_wire_bytes']
  const rows = result.results.map((r) =>
    [r.transport, r.sent, r.received, r.lost, r.duplicates, r.msgs_per_s, r.recv_per_s, r.latency.p50_ms, r.latency.p99_ms, r.latency.max_ms, r.overhead.mqtt_bytes, r.overhead.pub_wire_bytes, r.overhead.sub_wire_bytes].join(','),
  )
  return [cols.join(','), ...rows].join('\n') + '\n'
}
