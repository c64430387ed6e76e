/** Broker nodes in this process joined through one nats-server. */
import type {MqttClient} from 'mqtt'
import {createClusterBus} from '../../../src/core/cluster/index.js'
import type {NatsBus} from '../../../src/core/cluster/index.js'
import {resolveClusterConfig} from '../../../src/core/cluster/config.js'
import type {BrokerConfigInput} from '../../../src/core/config.js'
import {noopLogger} from '../../../src/core/logger.js'
import type {TestBroker} from '../../helpers/broker.js'
import {startBroker} from '../../helpers/broker.js'

export interface ClusterNode extends TestBroker {
  bus: NatsBus
}

export async function startNode(natsUrl: string, name: string, input: BrokerConfigInput = {}): Promise<ClusterNode> {
  const bus = await createClusterBus(resolveClusterConfig({servers: [natsUrl], name, heartbeatMs: 200, ackTimeoutMs: 2000}), noopLogger)
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
