/** Where `bench` sends its load: the embedded broker, or brokers given by URL. */
import {readFile} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'
import {joinUrls} from '../core/bench/plan.js'
import type {BenchTransport} from '../core/bench/plan.js'
import type {BenchTarget} from '../core/bench/run.js'
import {ConfigError} from '../core/errors.js'
import {brokerUrl} from '../core/client/options.js'
import type {ClientProtocol} from '../core/client/options.js'
import {startEmbeddedBroker} from './embedded-broker.js'

const SCHEME_OF: Record<BenchTransport, ClientProtocol> = {tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss'}

/** bench -h/-p: one URL per transport, as pub and sub build theirs; none without -h or -p (the embedded broker). */
export function urlsFromHost(host: string | undefined, port: number | undefined, transports: readonly BenchTransport[]): string[] {
  if (host === undefined && port === undefined) return []
  if (port !== undefined && transports.length > 1) {
    throw new ConfigError(`-p ${port} names one port, but -T asks for ${transports.join(', ')}: measure one transport (-T ${transports[0]}), or give one -L URL per transport`)
  }
  return transports.map((t) => {
    if (!Object.hasOwn(SCHEME_OF, t)) throw new ConfigError(`-T ${t}: not a transport; use ${Object.keys(SCHEME_OF).join(', ')}`)
    return brokerUrl({host, port, protocol: SCHEME_OF[t]}).href
  })
}

const BY_SCHEME: Record<string, BenchTransport> = {'mqtt:': 'tcp', 'tcp:': 'tcp', 'mqtts:': 'tls', 'ssl:': 'tls', 'tls:': 'tls', 'ws:': 'ws', 'wss:': 'wss'}

/** The transports --url values name, each once (bad URLs are reported by resolveTarget). */
export function urlTransports(urls: readonly string[]): BenchTransport[] {
  const out = urls.flatMap((u) => {
    const t = URL.canParse(u) ? BY_SCHEME[new URL(u).protocol] : undefined
    return t === undefined ? [] : [t]
  })
  return [...new Set(out)]
}

export interface ResolvedTarget {
  target: BenchTarget
  transports: BenchTransport[]
  /** What is being measured, for the report. */
  description: string
  /** The broker's resident memory (Linux /proc): the embedded one, or --broker-pid with --url. */
  brokerMemory?: () => Promise<number | undefined>
  /** The broker's CPU time so far in µs (Linux /proc), when its process is known. */
  brokerCpu?: () => Promise<number | undefined>
  stop(): Promise<void>
}

/** VmRSS of a process from /proc (Linux); undefined where that is not available. */
async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch {
    return undefined
  }
}

/** /proc reports CPU times in USER_HZ ticks, 100 a second on Linux. */
const USER_HZ = 100

/** utime + stime of a process from /proc/PID/stat (Linux), in µs; undefined where that is not available. */
export async function cpuMicros(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // After the command name (in parentheses, which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? (ticks * 1e6) / USER_HZ : undefined
  } catch {
    return undefined
  }
}

/** --broker-pid: the memory of a local broker given by URL; fails early when there is no such process. */
async function brokerMemoryOf(pid: number | undefined): Promise<ResolvedTarget['brokerMemory']> {
  if (pid === undefined) return undefined
  if ((await residentBytes(pid)) === undefined) {
    const why = (await residentBytes(process.pid)) === undefined ? 'it is read from /proc, which this system does not have' : 'no such process'
    throw new ConfigError(`--broker-pid ${pid}: ${why}`)
  }
  return () => residentBytes(pid)
}

/**
 * With URLs: the transports are the URLs' schemes; several URLs of one transport (the nodes
 * of a cluster) are one transport whose clients are spread over them (plan.ts urlFor). Without: start
 * `mqttws serve` in its own process and measure the transports asked for.
 */
export async function resolveTarget(
  urls: string[],
  transports: BenchTransport[],
  tls: {cafile?: string; insecure?: boolean},
  serveArgs: string[] = [],
  brokerPid?: number,
): Promise<ResolvedTarget> {
  const brokerMemory = await brokerMemoryOf(brokerPid)
  const ca = tls.cafile ? await readFile(tls.cafile, 'utf8').catch(() => Promise.reject(new ConfigError(`--cafile ${tls.cafile}: no such file`))) : undefined
  if (urls.length > 0) {
    const map: Partial<Record<BenchTransport, string[]>> = {}
    for (const u of urls) {
      let scheme: string
      try {
        scheme = new URL(u).protocol
      } catch {
        throw new ConfigError(`--url "${u}" is not a URL: write it as mqtt://HOST:PORT or ws://HOST:PORT/PATH`)
      }
      const t = BY_SCHEME[scheme]
      if (!t) throw new ConfigError(`--url "${u}" has the scheme "${scheme}": use mqtt://, mqtts://, ws:// or wss://`)
      if (map[t]?.includes(u)) throw new ConfigError(`--url ${u} is given twice: give each broker once (several URLs of one transport spread the clients over them)`)
      ;(map[t] ??= []).push(u)
    }
    const joined: Partial<Record<BenchTransport, string>> = {}
    for (const [t, list] of Object.entries(map)) joined[t as BenchTransport] = joinUrls(list)
    const brokerCpu = brokerPid === undefined ? undefined : (): Promise<number | undefined> => cpuMicros(brokerPid)
    return {target: {urls: joined, tls: {ca, insecure: tls.insecure}}, transports: Object.keys(map) as BenchTransport[], description: urls.join(', ') + (brokerPid === undefined ? '' : ` (pid ${brokerPid})`), brokerMemory, brokerCpu, stop: async () => {}}
  }
  const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
  const broker = await startEmbeddedBroker(bin, serveArgs)
  return {
    target: {urls: broker.urls, tls: {ca: broker.ca}},
    transports,
    description: `embedded mqttws broker (pid ${broker.pid})`,
    brokerMemory: () => residentBytes(broker.pid),
    brokerCpu: () => cpuMicros(broker.pid),
    stop: () => broker.stop(),
  }
}
