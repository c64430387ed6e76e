/**
 * What is measured, how, and what mqttws must reach (the targets). Each scenario is
 * one `mqttws bench` run (or one timing) per broker per round, against a freshly started broker.
 */
import {BROKERS} from '../peers/start.js'
import type {Broker, BrokerName} from '../peers/start.js'
import {benchBroker, timePubOneShot} from './measure.js'
import type {BenchRun, Sample} from './measure.js'
import {allConnected, atLeastTimes, atMost, atMostTimesOf, exactly, lossless} from './targets.js'
import type {Target} from './targets.js'

export interface CompareOptions {
  rounds: number
  durationS: number
  /** conn: connections to open. */
  connections: number
  /** pub: one-shot runs per round (each also times `node -e 0`). */
  pubRuns: number
}

/** How a row's figure is shown: deliveries/s, KiB per connection, bytes per message, milliseconds. */
export type Unit = 'msg/s' | 'KiB/conn' | 'B/msg' | 'ms'

export interface Row {
  transport: Transport
  unit: Unit
  /** The figure in a Sample, e.g. 'ws.recv_per_s'. */
  key: string
  /** [lost, expected] of one round, shown next to the figure: a broker that drops must not look fast. */
  loss?: (s: Sample) => [number, number]
  targets: Target[]
}

export type Transport = 'tcp' | 'ws'

export interface Scenario {
  id: string
  title: string
  brokers: readonly BrokerName[]
  /** Each measured on its own: a broker that falls over on one transport still has figures for the other. */
  transports: readonly Transport[]
  measure(broker: Broker, transport: Transport, o: CompareOptions): Promise<Sample>
  rows(o: CompareOptions): Row[]
}

/** Deliveries lost, of deliveries expected (received counts duplicates, so it is near enough). */
function deliveriesLost(transport: string): (s: Sample) => [number, number] {
  return (s) => {
    const lost = s[`${transport}.lost`] ?? 0
    return [lost, lost + (s[`${transport}.received`] ?? 0)]
  }
}

function connectionsFailed(transport: string): (s: Sample) => [number, number] {
  return (s) => {
    const tried = s[`${transport}.sent`] ?? 0
    return [tried - (s[`${transport}.connects`] ?? 0), tried]
  }
}

function deliveries(transport: Row['transport'], targets: Target[]): Row {
  return {transport, unit: 'msg/s', key: `${transport}.recv_per_s`, loss: deliveriesLost(transport), targets}
}

/** One bench run of `durationS`, bounded by `timeoutS` (starting, connecting and draining included). */
function benchRun(scenario: string, transport: Transport, args: string[], o: CompareOptions, timeoutS = o.durationS + 45): BenchRun {
  return {scenario, transport, args: ['-d', String(o.durationS), ...args], timeoutS}
}

/** Broker memory per idle connection, at most (mqttws only). */
const MEMORY_LIMIT_KIB: Record<Transport, number> = {tcp: 6, ws: 9}

export const SCENARIOS: Scenario[] = [
  {
    id: 'fan-in',
    title: 'Fan-in 10→1, QoS 0, 16 B',
    brokers: BROKERS,
    transports: ['tcp', 'ws'],
    measure: (b, t, o) => benchBroker(b, benchRun('fan-in', t, ['-P', '10', '-q', '0', '-s', '16'], o)),
    rows: () => [
      deliveries('tcp', [atLeastTimes('mosquitto', 3), atLeastTimes('aedes', 2.5)]),
      deliveries('ws', [atLeastTimes('mosquitto', 1.5), atLeastTimes('aedes', 8)]),
    ],
  },
  {
    id: 'fan-in-qos1',
    title: 'Fan-in 10→1, QoS 1, 16 B',
    brokers: BROKERS,
    transports: ['tcp', 'ws'],
    measure: (b, t, o) => benchBroker(b, benchRun('fan-in', t, ['-P', '10', '-q', '1', '-s', '16'], o)),
    rows: () => [deliveries('tcp', [atLeastTimes('aedes', 2), lossless('tcp')]), deliveries('ws', [atLeastTimes('aedes', 6), lossless('ws')])],
  },
  {
    id: 'fan-out',
    title: 'Fan-out 1→100, QoS 0, 16 B',
    brokers: BROKERS,
    transports: ['ws', 'tcp'],
    measure: (b, t, o) => benchBroker(b, benchRun('fan-out', t, ['-S', '100', '-q', '0', '-s', '16'], o)),
    // TCP for information only.
    rows: () => [deliveries('ws', [atLeastTimes('mosquitto', 2)]), deliveries('tcp', [])],
  },
  {
    id: 'conn',
    title: 'Idle connections: broker memory',
    brokers: BROKERS,
    transports: ['tcp', 'ws'],
    async measure(b, t, o) {
      // A warm-up first, so that one-time costs (lazy loading, JIT, first buffers) are not charged per connection.
      await benchBroker(b, benchRun('conn', t, ['-c', '100'], o))
      return benchBroker(b, {...benchRun('conn', t, ['-c', String(o.connections)], o, 240), brokerPid: true})
    },
    rows: (o) =>
      (['tcp', 'ws'] as const).map((t) => ({
        transport: t,
        unit: 'KiB/conn' as const,
        key: `${t}.broker_bytes_per_connection`,
        loss: connectionsFailed(t),
        targets: [atMost(MEMORY_LIMIT_KIB[t] * 1024, `${MEMORY_LIMIT_KIB[t]} KiB`), allConnected(t, o.connections)],
      })),
  },
  {
    id: 'ws-bytes',
    title: 'WS bytes per delivered 38-byte QoS 0 PUBLISH',
    brokers: BROKERS,
    transports: ['ws'],
    async measure(b, t, o) {
      // Topic mqttws/bench/N (14 bytes) and 20 bytes of payload: 2 + 2 + 14 + 20 = 38.
      const s = await benchBroker(b, benchRun('fan-in', t, ['-P', '10', '-q', '0', '-s', '20'], o))
      if (s['ws.mqtt_bytes'] !== 38) throw new Error(`the PUBLISH is ${s['ws.mqtt_bytes']} bytes, not 38: adjust -t/-s`)
      return s
    },
    rows: () => [{transport: 'ws', unit: 'B/msg', key: 'ws.sub_wire_bytes', loss: deliveriesLost('ws'), targets: [exactly(40, '40 B')]}],
  },
  {
    id: 'pub',
    title: '`mqttws pub` one-shot wall time',
    brokers: ['mqttws'],
    transports: ['tcp'],
    measure: (b, _t, o) => timePubOneShot(b, o.pubRuns),
    rows: () => [{transport: 'tcp', unit: 'ms', key: 'tcp.pub_ms', targets: [atMostTimesOf('tcp.node_ms', 2, '`node -e 0`')]}],
  },
]
