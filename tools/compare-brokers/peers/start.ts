/**
 * The three brokers of tools/compare-brokers/compare-brokers.ts, each in its own process on free loopback
 * ports, each with four listeners: TCP, TLS, WebSocket and secure WebSocket (path /mqtt), the
 * TLS ones with one certificate the comparison made (peerCertificate()).
 */
import type {ChildProcess} from 'node:child_process'
import {chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'
import {generateDevCertificate} from '../../../src/core/tls/dev-cert.js'
import {errorLine, isRunning, spawnTracked, stopChild} from '../compare/children.js'

export const BROKERS = ['mqttws', 'mosquitto', 'aedes'] as const
export type BrokerName = (typeof BROKERS)[number]

export const MOSQUITTO = '/usr/sbin/mosquitto'
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const BIN = join(ROOT, 'bin', 'run.js')
const AEDES_SERVER = join(ROOT, 'tools', 'compare-brokers', 'peers', 'aedes-server.mjs')
const CONNACK_SERVER = join(ROOT, 'tools', 'compare-brokers', 'peers', 'connack-server.mjs')
const START_TIMEOUT_MS = 15_000

export type Transport = 'tcp' | 'tls' | 'ws' | 'wss'

/** PEM files every broker's TLS listeners use (clients connect with --insecure: the same for each broker). */
export interface PeerCertificate {
  cert: string
  key: string
}

let certificate: Promise<PeerCertificate> | undefined

/** One self-signed certificate for 127.0.0.1 (RSA, as dev-cert makes it), written once per comparison. */
export function peerCertificate(): Promise<PeerCertificate> {
  certificate ??= generateDevCertificate(['localhost', '127.0.0.1'], 2).then((c) => {
    const dir = mkdtempSync(join(tmpdir(), 'mqttws-compare-cert-'))
    const files = {cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem')}
    // Readable by all: Mosquitto started as root reads them after dropping to its own user. A throwaway key for loopback only.
    chmodSync(dir, 0o755)
    writeFileSync(files.cert, c.cert, {mode: 0o644})
    writeFileSync(files.key, c.key, {mode: 0o644})
    process.once('exit', () => rmSync(dir, {recursive: true, force: true}))
    return files
  })
  return certificate
}

export interface Broker {
  name: BrokerName
  pid: number
  urls: Record<Transport, string>
  /** Undefined while it runs; how it ended if it stopped on its own (a crash under load). */
  crashed(): string | undefined
  stop(): Promise<void>
}

export function hasMosquitto(): boolean {
  return existsSync(MOSQUITTO)
}

export async function startBroker(name: BrokerName): Promise<Broker> {
  const cert = await peerCertificate()
  if (name === 'mqttws') return startMqttws(cert)
  if (name === 'mosquitto') return startMosquitto(cert)
  return startAedes(cert)
}

/** Reads what a child writes to stderr (so its pipe never fills) for its error line, and says how it ended. */
function watch(child: ChildProcess): {tail(): string; crashed(): string | undefined} {
  let tail = ''
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000)
  })
  return {
    tail: () => errorLine(tail),
    crashed() {
      if (isRunning(child)) return undefined
      const why = errorLine(tail)
      return `exited (${child.exitCode ?? child.signalCode})${why ? `: ${why}` : ''}`
    },
  }
}

/**
 * Reads the child's stdout line by line until `accept` returns a value; fails if the child
 * exits or `START_TIMEOUT_MS` passes first. The child is killed on failure.
 */
function firstLine<T>(what: string, child: ChildProcess, tail: () => string, accept: (line: string) => T | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`${what} ${why}: ${tail()}`))
    }
    const timer = setTimeout(() => fail(`did not start within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS)
    const onExit = (code: number | null): void => fail(`exited with ${code} before it was ready`)
    const onError = (error: Error): void => fail(`could not be started (${error.message})`)
    child.once('exit', onExit)
    child.once('error', onError)
    const lines = createInterface({input: child.stdout!})
    lines.on('line', (line) => {
      const value = accept(line)
      if (value === undefined) return
      clearTimeout(timer)
      child.off('exit', onExit)
      child.off('error', onError)
      resolve(value)
    })
  })
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line)
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

const SCHEME_TRANSPORT: Record<string, Transport> = {mqtt: 'tcp', mqtts: 'tls', ws: 'ws', wss: 'wss'}

/** `mqttws serve`, as a user would start it, logging errors only (each connect is logged at info). */
async function startMqttws(cert: PeerCertificate): Promise<Broker> {
  const listeners = ['mqtt://127.0.0.1:0', 'mqtts://127.0.0.1:0', 'ws://127.0.0.1:0/mqtt', 'wss://127.0.0.1:0/mqtt'].flatMap((l) => ['--listen', l])
  const args = [BIN, 'serve', ...listeners, '--tls-cert', cert.cert, '--tls-key', cert.key, '--admin', 'off', '--json', '--log-level', 'error']
  // The IPC channel is a lifeline: serve stops when this script goes away, however it ends.
  const child = spawnTracked(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe', 'ipc']})
  const watched = watch(child)
  const urls: Partial<Broker['urls']> = {}
  const pid = await firstLine('mqttws serve', child, watched.tail, (line) => {
    const e = parseJson(line)
    const transport = SCHEME_TRANSPORT[String(e?.scheme)]
    if (e?.event === 'listening' && typeof e.url === 'string' && transport) urls[transport] = e.url
    return e?.event === 'ready' ? Number(e.pid) : undefined
  })
  return {name: 'mqttws', pid, urls: allUrls('mqttws serve', urls), crashed: watched.crashed, stop: () => stopChild(child)}
}

function allUrls(who: string, urls: Partial<Broker['urls']>): Broker['urls'] {
  if (!urls.tcp || !urls.tls || !urls.ws || !urls.wss) throw new Error(`${who} did not report all four listeners: ${JSON.stringify(urls)}`)
  return urls as Broker['urls']
}

/** tools/compare-brokers/peers/aedes-server.mjs: Aedes with net, tls, ws and wss, the way its documentation shows. */
async function startAedes(cert: PeerCertificate): Promise<Broker> {
  const child = spawnTracked(process.execPath, [AEDES_SERVER, cert.cert, cert.key], {stdio: ['ignore', 'pipe', 'pipe', 'ipc']})
  const watched = watch(child)
  const ready = await firstLine('aedes', child, watched.tail, (line) => {
    const e = parseJson(line)
    return typeof e?.tcp === 'number' && typeof e.wss === 'number' ? e : undefined
  })
  const urls = {tcp: `mqtt://127.0.0.1:${ready.tcp}`, tls: `mqtts://127.0.0.1:${ready.tls}`, ws: `ws://127.0.0.1:${ready.ws}/mqtt`, wss: `wss://127.0.0.1:${ready.wss}/mqtt`}
  return {name: 'aedes', pid: Number(ready.pid), urls, crashed: watched.crashed, stop: () => stopChild(child)}
}

/** peers/connack-server.mjs: the floor of a Node broker's connection cost (TCP and WS only; no TLS). */
export async function startConnackServer(): Promise<Broker> {
  const child = spawnTracked(process.execPath, [CONNACK_SERVER], {stdio: ['ignore', 'pipe', 'pipe', 'ipc']})
  const watched = watch(child)
  const ready = await firstLine('connack-server', child, watched.tail, (line) => {
    const e = parseJson(line)
    return typeof e?.tcp === 'number' && typeof e.ws === 'number' ? e : undefined
  })
  const urls = {tcp: `mqtt://127.0.0.1:${ready.tcp}`, ws: `ws://127.0.0.1:${ready.ws}/mqtt`, tls: '', wss: ''}
  return {name: 'mqttws', pid: Number(ready.pid), urls, crashed: watched.crashed, stop: () => stopChild(child)}
}

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

/**
 * Mosquitto's defaults, except the four loopback listeners and anonymous access (which 2.x
 * refuses by default). Its queue limits stay as shipped: QoS 0 it cannot queue is dropped,
 * and bench counts that as lost.
 */
function mosquittoConfig(ports: Record<Transport, number>, cert: PeerCertificate): string {
  const tls = [`certfile ${cert.cert}`, `keyfile ${cert.key}`]
  return [
    `listener ${ports.tcp} 127.0.0.1`,
    `listener ${ports.tls} 127.0.0.1`,
    ...tls,
    `listener ${ports.ws} 127.0.0.1`,
    'protocol websockets',
    `listener ${ports.wss} 127.0.0.1`,
    'protocol websockets',
    ...tls,
    'allow_anonymous true',
    '',
  ].join('\n')
}

async function startMosquitto(cert: PeerCertificate): Promise<Broker> {
  const ports = {tcp: await freePort(), tls: await freePort(), ws: await freePort(), wss: await freePort()}
  const dir = mkdtempSync(join(tmpdir(), 'mqttws-compare-mosquitto-'))
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, mosquittoConfig(ports, cert))
  const child = spawnTracked(MOSQUITTO, ['-c', conf], {stdio: ['ignore', 'ignore', 'pipe']})
  const watched = watch(child)
  const stop = async (): Promise<void> => {
    await stopChild(child)
    rmSync(dir, {recursive: true, force: true})
  }
  // Mosquitto prints nothing when ready: poll the ports (bounded).
  for (let i = 0; i < START_TIMEOUT_MS / 50; i++) {
    if (!isRunning(child)) break
    if ((await accepts(ports.tcp)) && (await accepts(ports.tls)) && (await accepts(ports.ws)) && (await accepts(ports.wss))) {
      const urls = {tcp: `mqtt://127.0.0.1:${ports.tcp}`, tls: `mqtts://127.0.0.1:${ports.tls}`, ws: `ws://127.0.0.1:${ports.ws}/mqtt`, wss: `wss://127.0.0.1:${ports.wss}/mqtt`}
      return {name: 'mosquitto', pid: child.pid!, urls, crashed: watched.crashed, stop}
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  await stop()
  throw new Error(`mosquitto did not start on ports ${Object.values(ports).join(', ')}: ${watched.tail()}`)
}
