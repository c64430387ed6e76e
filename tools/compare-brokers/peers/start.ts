/**
 * The three brokers of tools/compare-brokers/compare-brokers.ts, each in its own process on free loopback
 * ports, each with one TCP and one WebSocket (path /mqtt) listener.
 */
import type {ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'
import {errorLine, isRunning, spawnTracked, stopChild} from '../compare/children.js'

export const BROKERS = ['mqttws', 'mosquitto', 'aedes'] as const
export type BrokerName = (typeof BROKERS)[number]

export const MOSQUITTO = '/usr/sbin/mosquitto'
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const BIN = join(ROOT, 'bin', 'run.js')
const AEDES_SERVER = join(ROOT, 'tools', 'compare-brokers', 'peers', 'aedes-server.mjs')
const START_TIMEOUT_MS = 15_000

export interface Broker {
  name: BrokerName
  pid: number
  urls: {tcp: string; ws: string}
  /** Undefined while it runs; how it ended if it stopped on its own (a crash under load). */
  crashed(): string | undefined
  stop(): Promise<void>
}

export function hasMosquitto(): boolean {
  return existsSync(MOSQUITTO)
}

export function startBroker(name: BrokerName): Promise<Broker> {
  if (name === 'mqttws') return startMqttws()
  if (name === 'mosquitto') return startMosquitto()
  return startAedes()
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

/** `mqttws serve`, as a user would start it, logging errors only (each connect is logged at info). */
async function startMqttws(): Promise<Broker> {
  const args = [BIN, 'serve', '--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--admin', 'off', '--json', '--log-level', 'error']
  // The IPC channel is a lifeline: serve stops when this script goes away, however it ends.
  const child = spawnTracked(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe', 'ipc']})
  const watched = watch(child)
  const urls: Partial<Broker['urls']> = {}
  const pid = await firstLine('mqttws serve', child, watched.tail, (line) => {
    const e = parseJson(line)
    if (e?.event === 'listening' && typeof e.url === 'string') urls[e.scheme === 'ws' ? 'ws' : 'tcp'] = e.url
    return e?.event === 'ready' ? Number(e.pid) : undefined
  })
  if (!urls.tcp || !urls.ws) throw new Error(`mqttws serve did not report both listeners: ${JSON.stringify(urls)}`)
  return {name: 'mqttws', pid, urls: {tcp: urls.tcp, ws: urls.ws}, crashed: watched.crashed, stop: () => stopChild(child)}
}

/** tools/compare-brokers/peers/aedes-server.mjs: Aedes with net and ws, the way its documentation shows. */
async function startAedes(): Promise<Broker> {
  const child = spawnTracked(process.execPath, [AEDES_SERVER, '0', '0'], {stdio: ['ignore', 'pipe', 'pipe', 'ipc']})
  const watched = watch(child)
  const ready = await firstLine('aedes', child, watched.tail, (line) => {
    const e = parseJson(line)
    return typeof e?.tcp === 'number' && typeof e.ws === 'number' ? {pid: Number(e.pid), tcp: e.tcp, ws: e.ws} : undefined
  })
  return {name: 'aedes', pid: ready.pid, urls: {tcp: `mqtt://127.0.0.1:${ready.tcp}`, ws: `ws://127.0.0.1:${ready.ws}/mqtt`}, crashed: watched.crashed, stop: () => stopChild(child)}
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
 * Mosquitto's defaults, except the two loopback listeners and anonymous access (which 2.x
 * refuses by default). Its queue limits stay as shipped: QoS 0 it cannot queue is dropped,
 * and bench counts that as lost.
 */
function mosquittoConfig(tcp: number, ws: number): string {
  return [`listener ${tcp} 127.0.0.1`, `listener ${ws} 127.0.0.1`, 'protocol websockets', 'allow_anonymous true', ''].join('\n')
}

async function startMosquitto(): Promise<Broker> {
  const [tcp, ws] = [await freePort(), await freePort()]
  const dir = mkdtempSync(join(tmpdir(), 'mqttws-compare-mosquitto-'))
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, mosquittoConfig(tcp, ws))
  const child = spawnTracked(MOSQUITTO, ['-c', conf], {stdio: ['ignore', 'ignore', 'pipe']})
  const watched = watch(child)
  const stop = async (): Promise<void> => {
    await stopChild(child)
    rmSync(dir, {recursive: true, force: true})
  }
  // Mosquitto prints nothing when ready: poll both ports (bounded).
  for (let i = 0; i < START_TIMEOUT_MS / 50; i++) {
    if (!isRunning(child)) break
    if ((await accepts(tcp)) && (await accepts(ws))) {
      return {name: 'mosquitto', pid: child.pid!, urls: {tcp: `mqtt://127.0.0.1:${tcp}`, ws: `ws://127.0.0.1:${ws}/mqtt`}, crashed: watched.crashed, stop}
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  await stop()
  throw new Error(`mosquitto did not start on ports ${tcp} and ${ws}: ${watched.tail()}`)
}
