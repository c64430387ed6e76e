/**
 * Debian's nats-server with JetStream, on a free loopback port with its own store
 * directory, started and stopped by the test. `restart()` starts it again on the same
 * port and directory (a NATS outage and its end). `startNatsCluster` makes a NATS cluster;
 * `sessionRecord`, `offlineRecord` and `bucketKeys` read the cluster's key-value buckets as a test sees them.
 */
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {closedPort, closedPorts} from './ports.js'

export const NATS_SERVER = '/usr/sbin/nats-server'

export function hasNatsServer(): boolean {
  return existsSync(NATS_SERVER)
}

/** Skips the calling suite (a mocha `before`) with a clear message when nats-server is absent. */
export function skipWithoutNats(ctx: Mocha.Context): void {
  if (!hasNatsServer()) {
    console.log(`    (skipped: ${NATS_SERVER} is not installed; apt-get install nats-server)`)
    ctx.skip()
  }
}

export interface RunningNats {
  port: number
  url: string
  dir: string
  child: ChildProcess
  /** Stops the server (SIGTERM, or SIGKILL when asked) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same port and store directory. */
  restart(): Promise<void>
  /** Stops it and removes its store directory. */
  dispose(): Promise<void>
}

function canConnect(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

/** Starts `nats-server -js -a 127.0.0.1 -p PORT -sd DIR` and waits until it accepts connections. */
export async function startNats(): Promise<RunningNats> {
  return startNatsOn(await closedPort(), [])
}

async function startNatsOn(port: number, extra: string[]): Promise<RunningNats> {
  const dir = mkdtempSync(join(tmpdir(), 'mqttws-nats-'))
  let child: ChildProcess
  let log = ''
  const launch = async (): Promise<void> => {
    log = ''
    child = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir, ...extra], {stdio: ['ignore', 'ignore', 'pipe']})
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}: ${log}`)
      if (log.includes('Server is ready') && (await canConnect(port))) return
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`nats-server did not become ready on port ${port}: ${log}`)
  }
  await launch()
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill(signal)
    })
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    dir,
    get child() {
      return child
    },
    stop,
    restart: launch,
    dispose: async () => {
      await stop()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

export interface RunningNatsCluster {
  servers: RunningNats[]
  /** Every server's client URL. */
  urls: string[]
  dispose(): Promise<void>
}

/**
 * A NATS cluster of `n` servers with JetStream (cluster name "mqttws-test"), each on its own
 * loopback client and route ports with its own store directory; resolves once every server
 * is up and JetStream can place a stream with `n` replicas.
 */
export async function startNatsCluster(n = 3): Promise<RunningNatsCluster> {
  const ports = await closedPorts(2 * n)
  const clientPorts = ports.slice(0, n)
  const routePorts = ports.slice(n)
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',')
  const servers: RunningNats[] = []
  await Promise.all(
    clientPorts.map(async (port, i) => {
      const extra = ['--server_name', `n${i + 1}`, '--cluster_name', 'mqttws-test', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes]
      servers[i] = await startNatsOn(port, extra)
    }),
  )
  const urls = servers.map((s) => s.url)
  // JetStream needs a meta leader, and every server known to it as a peer, before a stream with
  // n replicas can be placed ("no suitable peers for placement" on a loaded machine): wait
  // until such a stream can be made (then remove it).
  const {connect} = await import('@nats-io/transport-node')
  const {jetstreamManager} = await import('@nats-io/jetstream')
  const nc = await connect({servers: urls})
  try {
    for (let i = 0; ; i++) {
      try {
        const jsm = await jetstreamManager(nc, {timeout: 1000})
        await jsm.streams.add({name: 'mqttws-test-probe', subjects: ['mqttws-test-probe'], num_replicas: n})
        await jsm.streams.delete('mqttws-test-probe')
        break
      } catch (error) {
        if (i >= 100) throw new Error(`the NATS cluster's JetStream did not come up: ${(error as Error).message}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  } finally {
    await nc.close()
  }
  return {servers, urls, dispose: async () => void (await Promise.all(servers.map((s) => s.dispose())))}
}

type SessionRecordView = {node?: string; disc?: number | null; subs?: unknown[]}

/** Opens the cluster's sessions bucket with the NATS client library for `f`, then closes the connection. */
async function withSessions<T>(url: string, f: (read: (clientId: string) => Promise<SessionRecordView | undefined>) => Promise<T>): Promise<T> {
  const {connect} = await import('@nats-io/transport-node')
  const {Kvm} = await import('@nats-io/kv')
  const nc = await connect({servers: url})
  try {
    const kv = await new Kvm(nc).open('mqttws_sessions')
    return await f(async (clientId) => {
      const entry = await kv.get(Buffer.from(clientId).toString('base64url'))
      return entry === null || entry.operation !== 'PUT' ? undefined : entry.json<SessionRecordView>()
    })
  } finally {
    await nc.close()
  }
}

/** The record of a client id in the cluster's sessions bucket, or undefined when there is none. */
export function sessionRecord(url: string, clientId: string): Promise<SessionRecordView | undefined> {
  return withSessions(url, (read) => read(clientId))
}

/** Resolves true once the record of a client id says its client left (polled every 25 ms, 400 times at most), false if it never does. */
export function offlineRecord(url: string, clientId: string): Promise<boolean> {
  return withSessions(url, async (read) => {
    for (let i = 0; i < 400; i++) {
      if ((await read(clientId))?.disc != null) return true
      await new Promise((r) => setTimeout(r, 25))
    }
    return false
  })
}

/** How many keys a key-value bucket of the cluster holds (mqttws_wills: the Wills of connected clients). */
export async function bucketKeys(url: string, bucket: string): Promise<number> {
  const {connect} = await import('@nats-io/transport-node')
  const {Kvm} = await import('@nats-io/kv')
  const nc = await connect({servers: url})
  try {
    const kv = await new Kvm(nc).open(bucket)
    let n = 0
    for await (const _ of await kv.keys()) n++
    return n
  } finally {
    await nc.close()
  }
}
