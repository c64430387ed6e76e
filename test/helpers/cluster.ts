/**
 * Cluster fixtures: broker nodes in this process joined through a real nats-server (or a NATS
 * cluster), and `mqttws serve --cluster` processes (e2e).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {IClientOptions, MqttClient} from 'mqtt'
import {Broker} from '../../src/core/broker/broker.js'
import {createClusterBus} from '../../src/core/cluster/index.js'
import type {NatsBus} from '../../src/core/cluster/index.js'
import {resolveClusterConfig} from '../../src/core/cluster/config.js'
import type {ClusterConfigInput} from '../../src/core/cluster/config.js'
import {resolveConfig} from '../../src/core/config.js'
import type {BrokerConfigInput} from '../../src/core/config.js'
import {noopLogger} from '../../src/core/logger.js'
import {openSqliteStores} from '../../src/core/store/sqlite.js'
import type {TestBroker} from './broker.js'
import {startBroker} from './broker.js'
import {connectCollecting, connectMqttJs} from './mqttjs.js'
import type {CollectingClient} from './mqttjs.js'
import {skipWithoutNats, startNats, startNatsCluster} from './nats.js'
import type {RunningNats} from './nats.js'
import {startServe} from './spawn.js'
import type {ServeProcess} from './spawn.js'

export interface ClusterNode extends TestBroker {
  bus: NatsBus
}

/** A broker node on the NATS server(s) given, heartbeats every 200 ms; `cluster` overrides the cluster settings (replicas, ackTimeoutMs…). */
export async function startNode(nats: string | string[], name: string, input: BrokerConfigInput = {}, cluster: Partial<ClusterConfigInput> = {}): Promise<ClusterNode> {
  const servers = typeof nats === 'string' ? [nats] : nats
  const bus = await createClusterBus(resolveClusterConfig({servers, name, heartbeatMs: 200, ackTimeoutMs: 2000, ...cluster}), noopLogger)
  const tb = await startBroker(input, {bus})
  return {...tb, bus}
}

/** A node named `name` with SQLite stores in `dir` (serve --data-dir) and one MQTT listener: start it again on the same folder to restart it. */
export async function startDurableNode(nats: string, dir: string, name = 'durable'): Promise<{broker: Broker; url: string}> {
  const config = resolveConfig({listeners: ['mqtt://127.0.0.1:0'], sysInterval: 0, persistence: {dir, synchronous: 'normal'}})
  const stores = openSqliteStores({dir, synchronous: 'normal'})
  const bus = await createClusterBus(resolveClusterConfig({servers: [nats], name, heartbeatMs: 200}), noopLogger)
  const broker = new Broker(config, {sessions: stores.sessions, retained: stores.retained, bus, logger: noopLogger})
  const [info] = await broker.listen()
  return {broker, url: info.url}
}

/** Collects every message a client gets, by topic. */
export function collect(client: MqttClient): Array<{topic: string; payload: string; packet: {qos: number; retain: boolean; properties?: Record<string, unknown>}}> {
  const got: Array<{topic: string; payload: string; packet: {qos: number; retain: boolean; properties?: Record<string, unknown>}}> = []
  client.on('message', (topic, payload, packet) => got.push({topic, payload: payload.toString(), packet: packet as never}))
  return got
}

/** Waits (bounded) until `check` holds; fails with `what` when it never does. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A node of a fixture: its name, its broker settings, and which of the NATS servers it is given (default: all of them). */
export interface NodeSpec {
  name: string
  config?: BrokerConfigInput
  servers?: (urls: string[]) => string[]
}

export interface ClusterOptions {
  /** A NATS cluster of this many servers (startNatsCluster) instead of one nats-server. */
  natsServers?: number
  /** Cluster settings of every node (replicas, ackTimeoutMs…). */
  cluster?: Partial<ClusterConfigInput>
}

export interface ClusterFixture extends FixtureClients {
  /** The nats-server, the first of the NATS cluster's (set in the fixture's before hook). */
  nats: RunningNats
  /** Every NATS server: one, or the NATS cluster's. */
  natsServers: RunningNats[]
  /** The nodes, in the order named. */
  readonly nodes: ClusterNode[]
}

/** How a fixture's tests make clients; every one ends after the test. */
export interface FixtureClients {
  /** An MQTT.js client, connected. */
  client(url: string, options?: IClientOptions): Promise<MqttClient>
  /** An MQTT.js client with its CONNACK and what it receives from before the CONNACK (connectCollecting). */
  connect(url: string, options?: IClientOptions): Promise<CollectingClient>
  /** Ends the clients made so far now (before a node they are on closes). */
  endClients(): void
}

function fixtureClients(): FixtureClients {
  const clients: MqttClient[] = []
  const endClients = (): void => {
    for (const c of clients.splice(0)) c.end(true)
  }
  afterEach(endClients)
  return {
    async client(url, options = {}) {
      const c = await connectMqttJs(url, options)
      clients.push(c)
      return c
    },
    connect: (url, options = {}) => connectCollecting(url, options, clients),
    endClients,
  }
}

/**
 * For one describe block: a nats-server (or a NATS cluster of `natsServers`) and a node per name
 * (with its config), started before the tests and closed after them; clients made with `client`
 * or `connect` end after each test. Skips the block when nats-server is not installed.
 */
export function useCluster(names: ReadonlyArray<string | [string, BrokerConfigInput] | NodeSpec>, options: ClusterOptions = {}): ClusterFixture {
  let dispose: (() => Promise<void>) | undefined
  const fixture: ClusterFixture = {nats: undefined as unknown as RunningNats, natsServers: [], nodes: [], ...fixtureClients()}
  before(async function () {
    skipWithoutNats(this)
    if (options.natsServers === undefined) {
      const nats = await startNats()
      fixture.natsServers = [nats]
      dispose = () => nats.dispose()
    } else {
      const natsCluster = await startNatsCluster(options.natsServers)
      fixture.natsServers = natsCluster.servers
      dispose = () => natsCluster.dispose()
    }
    fixture.nats = fixture.natsServers[0]
    const urls = fixture.natsServers.map((s) => s.url)
    for (const n of names) {
      const spec: NodeSpec = typeof n === 'string' ? {name: n} : Array.isArray(n) ? {name: n[0], config: n[1]} : n
      fixture.nodes.push(await startNode(spec.servers?.(urls) ?? urls, spec.name, spec.config, options.cluster))
    }
  })
  after(async () => {
    await Promise.all(fixture.nodes.map((n) => n.close()))
    await dispose?.()
  })
  return fixture
}

export interface ServeClusterFixture extends FixtureClients {
  /** The nats-server (set in the fixture's before hook). */
  nats: RunningNats
  /** A temporary folder for the nodes' files, removed after the block. */
  dir: string
  /** The `serve` processes, in the order given. */
  readonly nodes: ServeProcess[]
}

/**
 * For one describe block of e2e tests: a nats-server and one `mqttws serve` per entry of `nodes`
 * (its arguments, made from the NATS server and the block's temporary folder), started at once
 * before the tests; after them, the processes are stopped (SIGTERM; one killed by a test stays
 * dead), NATS is stopped and the folder removed. Skips the block when nats-server is not installed.
 */
export function useServeCluster(nodes: ReadonlyArray<(nats: RunningNats, dir: string) => string[]>): ServeClusterFixture {
  const fixture: ServeClusterFixture = {nats: undefined as unknown as RunningNats, dir: '', nodes: [], ...fixtureClients()}
  before(async function () {
    skipWithoutNats(this)
    fixture.nats = await startNats()
    fixture.dir = mkdtempSync(join(tmpdir(), 'mqttws-cluster-'))
    fixture.nodes.push(...(await Promise.all(nodes.map((args) => startServe(args(fixture.nats, fixture.dir))))))
  })
  after(async () => {
    await Promise.all(fixture.nodes.map((n) => n.stop()))
    await fixture.nats?.dispose()
    if (fixture.dir) rmSync(fixture.dir, {recursive: true, force: true})
  })
  return fixture
}

/** `serve` arguments of a node named `name` in the fixture's cluster, with `listen` URLs (default: one MQTT listener). */
export function clusterArgs(name: string, listen: string[] = ['mqtt://127.0.0.1:0']): (nats: RunningNats) => string[] {
  return (nats) => [...listen.flatMap((url) => ['--listen', url]), '--cluster', nats.url, '--cluster-name', name]
}
