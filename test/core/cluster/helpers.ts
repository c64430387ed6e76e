/** Broker nodes in this process joined through one nats-server. */
import type {IClientOptions, MqttClient} from 'mqtt'
import {createClusterBus} from '../../../src/core/cluster/index.js'
import type {NatsBus} from '../../../src/core/cluster/index.js'
import {resolveClusterConfig} from '../../../src/core/cluster/config.js'
import type {ClusterConfigInput} from '../../../src/core/cluster/config.js'
import type {BrokerConfigInput} from '../../../src/core/config.js'
import {noopLogger} from '../../../src/core/logger.js'
import type {TestBroker} from '../../helpers/broker.js'
import {startBroker} from '../../helpers/broker.js'
import {connectMqttJs} from '../../helpers/mqttjs.js'
import {skipWithoutNats, startNats} from '../../helpers/nats.js'
import type {RunningNats} from '../../helpers/nats.js'

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

export interface ClusterFixture {
  /** The nats-server (set in the fixture's before hook). */
  nats: RunningNats
  /** The nodes, in the order named. */
  readonly nodes: ClusterNode[]
  /** An MQTT.js client, ended after the test. */
  client(url: string, options?: IClientOptions): Promise<MqttClient>
}

/**
 * For one describe block: a nats-server and a node per name (with its config), started before
 * the tests and closed after them; clients made with `client` end after each test. Skips the
 * block when nats-server is not installed.
 */
export function useCluster(names: ReadonlyArray<string | [string, BrokerConfigInput]>): ClusterFixture {
  const clients: MqttClient[] = []
  const fixture: ClusterFixture = {
    nats: undefined as unknown as RunningNats,
    nodes: [],
    async client(url, options = {}) {
      const c = await connectMqttJs(url, options)
      clients.push(c)
      return c
    },
  }
  before(async function () {
    skipWithoutNats(this)
    fixture.nats = await startNats()
    for (const n of names) fixture.nodes.push(typeof n === 'string' ? await startNode(fixture.nats.url, n) : await startNode(fixture.nats.url, n[0], n[1]))
  })
  afterEach(() => {
    for (const c of clients.splice(0)) c.end(true)
  })
  after(async () => {
    await Promise.all(fixture.nodes.map((n) => n.close()))
    await fixture.nats?.dispose()
  })
  return fixture
}
