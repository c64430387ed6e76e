/**
 * One measurement: `mqttws bench … --url … --json` as a child process, flattened into
 * `transport.figure` numbers (the names bench's --assert uses); or wall times of one-shot
 * commands.
 */
import {fromBenchJson} from '../../../src/core/bench/json.js'
import {BIN} from '../peers/start.js'
import type {Broker, Transport} from '../peers/start.js'
import {startConnackServer} from '../peers/start.js'
import {errorLine, spawnTracked, stopChild} from './children.js'

/** Figures of one measurement, e.g. {'ws.recv_per_s': 81234, 'ws.lost': 0, 'pub_ms': 180}. */
export type Sample = Record<string, number>

/** The part of bench's JSON the comparison reads. */
interface BenchJson {
  results: Array<{transport: string} & Record<string, unknown>>
}

const FIGURES = ['recv_per_s', 'sent', 'received', 'lost', 'duplicates', 'pub_errors', 'connects', 'connects_per_s', 'broker_bytes_per_connection', 'broker_cpu_per_connect_us'] as const

interface Exited {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

/** Runs a command to completion, killing it after `timeoutMs`. */
function run(label: string, command: string, args: string[], timeoutMs: number): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawnTracked(command, args, {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d: Buffer) => (stdout += d))
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
    const timer = setTimeout(() => {
      void stopChild(child, 1000)
      reject(new Error(`${label} did not finish within ${Math.round(timeoutMs / 1000)} s`))
    }, timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6})
    })
  })
}

function flatten(doc: BenchJson): Sample {
  const sample: Sample = {}
  for (const r of doc.results) {
    for (const f of FIGURES) if (typeof r[f] === 'number') sample[`${r.transport}.${f}`] = r[f] as number
    const latency = r.latency as {p50_ms?: number; p99_ms?: number} | undefined
    if (latency?.p50_ms !== undefined && (r.received as number) > 0) {
      sample[`${r.transport}.p50_ms`] = latency.p50_ms
      sample[`${r.transport}.p99_ms`] = latency.p99_ms ?? 0
    }
    const overhead = r.overhead as {sub_wire_bytes?: number; mqtt_bytes?: number} | undefined
    if (overhead?.sub_wire_bytes !== undefined) sample[`${r.transport}.sub_wire_bytes`] = overhead.sub_wire_bytes
    if (overhead?.mqtt_bytes !== undefined) sample[`${r.transport}.mqtt_bytes`] = overhead.mqtt_bytes
  }
  return sample
}

export interface BenchRun {
  scenario: string
  transport: Transport
  args: string[]
  /** Pass --broker-pid, so conn reports the broker's memory per connection. */
  brokerPid?: boolean
  /** Upper bound for the whole run, seconds. */
  timeoutS: number
}

/** `mqttws bench SCENARIO --url … --json ARGS` against one broker, one transport. */
export async function benchBroker(broker: Broker, b: BenchRun): Promise<Sample> {
  const urls = ['--url', broker.urls[b.transport]]
  const pid = b.brokerPid ? ['--broker-pid', String(broker.pid)] : []
  const r = await run(`bench ${b.scenario}`, process.execPath, [BIN, 'bench', b.scenario, ...urls, ...pid, ...b.args, '--json'], b.timeoutS * 1000)
  let doc: BenchJson
  try {
    // Version 2 names figures in camelCase; back to bench's own names (recv_per_s), as FIGURES uses them.
    doc = fromBenchJson(JSON.parse(r.stdout), `bench ${b.scenario}`) as unknown as BenchJson
  } catch {
    throw new Error(`bench ${b.scenario} exited with ${r.code} without a JSON result: ${errorLine(r.stderr)}`)
  }
  if (!Array.isArray(doc.results) || doc.results[0]?.transport !== b.transport) throw new Error(`bench ${b.scenario} has no ${b.transport} result`)
  return flatten(doc)
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/**
 * Wall time of `mqttws pub` (one message to the broker, then exit) against `node -e 0`,
 * alternating, `runs` each: {'tcp.pub_ms', 'tcp.node_ms'} medians.
 */
export async function timePubOneShot(broker: Broker, runs: number): Promise<Sample> {
  const node: number[] = []
  const pub: number[] = []
  for (let i = 0; i < runs; i++) {
    node.push((await run('node -e 0', process.execPath, ['-e', '0'], 10_000)).ms)
    const r = await run('mqttws pub', process.execPath, [BIN, 'pub', '--url', broker.urls.tcp, '-t', 'mqttws/compare/pub', '-m', 'hello'], 10_000)
    if (r.code !== 0) throw new Error(`mqttws pub exited with ${r.code}: ${errorLine(r.stderr)}`)
    pub.push(r.ms)
  }
  return {'tcp.pub_ms': Math.round(median(pub)), 'tcp.node_ms': Math.round(median(node))}
}

/**
 * `measure` against peers/connack-server.mjs (accept, CONNACK, hold): its figures renamed
 * `transport.floor_…` (broker_cpu_per_connect_us → floor_cpu_per_connect_us).
 */
export async function measureFloor(transport: Transport, measure: (floor: Broker) => Promise<Sample>): Promise<Sample> {
  const floor = await startConnackServer()
  try {
    const sample = await measure(floor)
    const out: Sample = {}
    for (const [k, v] of Object.entries(sample)) if (k.includes('.broker_')) out[k.replace('.broker_', '.floor_')] = v
    return out
  } finally {
    await floor.stop()
  }
}
