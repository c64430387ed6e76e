/**
 * What is measured, how, and what mqttws must reach (the targets). Each scenario is
 * one `mqttws bench` run (or one timing) per broker per round, against a freshly started broker.
 */
import {BROKERS} from '../peers/start.js'
import type {Broker, BrokerName, Transport} from '../peers/start.js'
import {benchBroker, measureFloor, timePubOneShot} from './measure.js'
import type {BenchRun, Sample} from './measure.js'
import {allConnected, atLeastTimes, atMost, atMostTimes, atMostTimesOf, exactly, lossless} from './targets.js'
import type {Figures, Target} from './targets.js'

export interface CompareOptions {
  rounds: number
  durationS: number
  /** conn: connections to open. */
  connections: number
  /** pub: one-shot runs per round (each also times `node -e 0`). */
  pubRuns: number
}

/** How a row's figure is shown: deliveries/s, KiB per connection, bytes per message, milliseconds, connects/s, µs of broker CPU per connect. */
export type Unit = 'msg/s' | 'KiB/conn' | 'B/msg' | 'ms' | 'conn/s' | 'µs/conn'

export interface Row {
  transport: Transport
  /** Which figure, when the unit does not say (e.g. p50, p99). */
  figure?: string
  unit: Unit
  /** The figure in a Sample, e.g. 'ws.recv_per_s'. */
  key: string
  /** A line printed under the table about this row (e.g. what the figure cannot go below). */
  note?: (f: Figures) => string | undefined
  /** [lost, expected] of one round, shown next to the figure: a broker that drops must not look fast. */
  loss?: (s: Sample) => [number, number]
  targets: Target[]
}

export type {Transport} from '../peers/start.js'

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
  // The brokers' TLS listeners share one self-signed certificate (peers/start.ts).
  const tls = transport === 'tls' || transport === 'wss' ? ['--insecure'] : []
  return {scenario, transport, args: ['-d', String(o.durationS), ...tls, ...args], timeoutS}
}

/**
 * Every publisher runs closed-loop: at most this many of its messages sent and not yet
 * received (QoS 0 included), so each broker is measured at a rate it sustains, not at how
 * fast its queues fill before it drops (the method of the independent comparison).
 */
export const IN_FLIGHT = 50
const WINDOW = ['--inflight', String(IN_FLIGHT)]

/** Fan-in 10→1 with a payload size and QoS, on each of `transports`. */
function fanIn(id: string, title: string, transports: readonly Transport[], size: number, qos: number, rows: Scenario['rows']): Scenario {
  return {
    id,
    title,
    brokers: BROKERS,
    transports,
    measure: (b, t, o) => benchBroker(b, benchRun('fan-in', t, ['-P', '10', '-q', String(qos), '-s', String(size), ...WINDOW], o)),
    rows,
  }
}

/** The least a latency run lasts (--duration below it is raised for this scenario). */
const LATENCY_SECONDS = 10

function latencyRow(transport: Transport, key: 'p50_ms' | 'p99_ms'): Row {
  return {transport, figure: key.slice(0, 3), unit: 'ms', key: `${transport}.${key}`, loss: deliveriesLost(transport), targets: [atMostTimes('mosquitto', 1)]}
}

/** The Node floor's figure (peers/connack-server.mjs), measured with mqttws's: what no Node broker goes below. */
function floorNote(t: Transport, figure: 'cpu_per_connect_us' | 'bytes_per_connection', what: string): (f: Figures) => string | undefined {
  return (f) => {
    const floor = f.median('mqttws', `${t}.floor_${figure}`)
    if (floor === undefined) return undefined
    const value = figure === 'bytes_per_connection' ? `${(floor / 1024).toFixed(2)} KiB` : `${Math.round(floor)} µs`
    const server = t === 'ws' ? 'accepts the WebSocket upgrade and answers' : 'answers'
    return `a Node server that only ${server} CONNECT with CONNACK: ${value} (${what}; the floor of any Node broker)`
  }
}

/** Broker memory per idle connection, at most (mqttws only): the targets. */
const MEMORY_LIMIT_KIB: Partial<Record<Transport, number>> = {tcp: 4, ws: 6}

export const SCENARIOS: Scenario[] = [
  {
    id: 'fan-in',
    title: 'Fan-in 10→1, QoS 0, 16 B',
    brokers: BROKERS,
    transports: ['tcp', 'ws'],
    measure: (b, t, o) => benchBroker(b, benchRun('fan-in', t, ['-P', '10', '-q', '0', '-s', '16', ...WINDOW], o)),
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
    measure: (b, t, o) => benchBroker(b, benchRun('fan-in', t, ['-P', '10', '-q', '1', '-s', '16', ...WINDOW], o)),
    rows: () => [deliveries('tcp', [atLeastTimes('aedes', 2), lossless('tcp')]), deliveries('ws', [atLeastTimes('aedes', 6), lossless('ws')])],
  },
  {
    id: 'fan-out',
    title: 'Fan-out 1→100, QoS 0, 16 B',
    brokers: BROKERS,
    transports: ['ws', 'tcp'],
    measure: (b, t, o) => benchBroker(b, benchRun('fan-out', t, ['-S', '100', '-q', '0', '-s', '16', ...WINDOW], o)),
    // TCP for information only.
    rows: () => [deliveries('ws', [atLeastTimes('mosquitto', 2)]), deliveries('tcp', [])],
  },
  fanIn('fan-in-1k', 'Fan-in 10→1, QoS 0, 1 KiB', ['ws', 'tcp'], 1024, 0, () => [
    deliveries('ws', [atLeastTimes('mosquitto', 1.5)]),
    deliveries('tcp', []),
  ]),
  fanIn('fan-in-1k-qos1', 'Fan-in 10→1, QoS 1, 1 KiB', ['ws'], 1024, 1, () => [deliveries('ws', [atLeastTimes('mosquitto', 1.5), lossless('ws')])]),
  fanIn('fan-in-64k', 'Fan-in 10→1, QoS 0, 64 KiB', ['ws', 'tcp'], 64 * 1024, 0, () => [
    deliveries('ws', [atLeastTimes('mosquitto', 1)]),
    deliveries('tcp', []),
  ]),
  // The issue: close any gap beyond 1.5× Mosquitto on TLS and secure WebSocket.
  fanIn('fan-in-tls', 'Fan-in 10→1, QoS 0, 16 B, TLS', ['tls', 'wss'], 16, 0, () => [
    deliveries('tls', [atLeastTimes('mosquitto', 0.67)]),
    deliveries('wss', [atLeastTimes('mosquitto', 0.67)]),
  ]),
  {
    id: 'latency',
    title: 'Latency at 1,000 msg/s, QoS 0, 16 B',
    brokers: BROKERS,
    transports: ['tcp', 'ws'],
    async measure(b, t, o) {
      const args = ['-r', '1000', '-q', '0', '-s', '16']
      // A second of the same load first, not counted: a freshly started broker's first messages (a JIT's warm-up) are not its latency.
      await benchBroker(b, benchRun('latency', t, args, {...o, durationS: 1}))
      // At least 10 s: 10,000 samples, so that p99 is the 100 slowest, not the 30 of a 3 s run (one scheduling hiccup of the machine).
      return benchBroker(b, benchRun('latency', t, args, {...o, durationS: Math.max(o.durationS, LATENCY_SECONDS)}))
    },
    rows: () => [latencyRow('tcp', 'p50_ms'), latencyRow('tcp', 'p99_ms'), latencyRow('ws', 'p50_ms'), latencyRow('ws', 'p99_ms')],
  },
  {
    id: 'conn',
    title: 'Idle connections: broker memory and CPU, connects/s',
    brokers: BROKERS,
    transports: ['tcp', 'ws'],
    async measure(b, t, o) {
      // A warm-up first, so that one-time costs (lazy loading, JIT, first buffers) are not charged per connection.
      await benchBroker(b, benchRun('conn', t, ['-c', '100'], o))
      // The broker's memory once it has been idle 10 s: what the connections cost, not the burst of connecting them.
      const conn = ['-c', String(o.connections), '--settle', '10']
      const sample = await benchBroker(b, {...benchRun('conn', t, conn, o, 240), brokerPid: true})
      // With mqttws's figures, the same run against a Node server that does nothing but accept and CONNACK: the floor of any Node broker.
      if (b.name === 'mqttws') Object.assign(sample, await measureFloor(t, (floor) => benchBroker(floor, {...benchRun('conn', t, conn, o, 240), brokerPid: true})))
      return sample
    },
    rows: (o) =>
      (['tcp', 'ws'] as const).flatMap((t): Row[] => [
        {
          transport: t,
          unit: 'KiB/conn',
          key: `${t}.broker_bytes_per_connection`,
          note: floorNote(t, 'bytes_per_connection', 'bytes per idle connection'),
          loss: connectionsFailed(t),
          targets: [atMost(MEMORY_LIMIT_KIB[t]! * 1024, `${MEMORY_LIMIT_KIB[t]} KiB`), allConnected(t, o.connections)],
        },
        {transport: t, unit: 'µs/conn', key: `${t}.broker_cpu_per_connect_us`, loss: connectionsFailed(t), targets: [atMostTimes('mosquitto', 2)], note: floorNote(t, 'cpu_per_connect_us', 'µs of CPU per connect')},
        {transport: t, unit: 'conn/s', key: `${t}.connects_per_s`, loss: connectionsFailed(t), targets: t === 'tcp' ? [atLeastTimes('mosquitto', 1)] : []},
      ]),
  },
  {
    id: 'ws-bytes',
    title: 'WS bytes per delivered 38-byte QoS 0 PUBLISH',
    brokers: BROKERS,
    transports: ['ws'],
    async measure(b, t, o) {
      // Topic mqttws/bench/N (14 bytes) and 20 bytes of payload: 2 + 2 + 14 + 20 = 38.
      const s = await benchBroker(b, benchRun('fan-in', t, ['-P', '10', '-q', '0', '-s', '20', ...WINDOW], o))
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
