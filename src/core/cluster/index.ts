/**
 * The cluster, loaded only when a configuration has `cluster` (a dynamic import of this
 * module), so a single node loads no NATS code. createClusterBus opens nothing yet: the
 * Broker starts the bus (Bus.start) when it starts.
 */
import type {Logger} from '../logger.js'
import type {ClusterConfig} from './config.js'
import {NatsBus} from './nats-bus.js'
import type {NatsConnect} from './nats-bus.js'

export {NatsBus} from './nats-bus.js'
export type {ClusterStats, NatsConnect} from './nats-bus.js'
export {SubjectMap} from './subjects.js'

export async function createClusterBus(config: ClusterConfig, logger: Logger): Promise<NatsBus> {
  const {connect} = await import('@nats-io/transport-node')
  return new NatsBus(config, logger, connect as unknown as NatsConnect)
}
