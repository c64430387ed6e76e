/** What a benchmark run does: scenario, transports, load shape. Validated once, then frozen. */
import {ConfigError} from '../errors.js'
import type {QoS} from '../protocol/codec.js'

export const SCENARIOS = ['conn', 'pub', 'sub', 'fan-in', 'fan-out', 'latency'] as const
export type Scenario = (typeof SCENARIOS)[number]

export const TRANSPORTS = ['tcp', 'tls', 'ws', 'wss'] as const
/** Bench names transports as users say them: tcp = mqtt://, tls = mqtts://. */
export type BenchTransport = (typeof TRANSPORTS)[number]

export interface BenchPlan {
  scenario: Scenario
  transports: BenchTransport[]
  /** Publishers (pub, fan-in; 1 for fan-out and latency). */
  publishers: number
  /** Subscribers (sub, fan-out; 1 for fan-in and latency; 0 for pub and conn). */
  subscribers: number
  /** conn: connections to open. */
  connections: number
  /** conn: connections opened per second (0: as fast as possible). */
  connectRate: number
  /** conn with a known broker process: seconds the broker is left idle before its memory is read (0: at once). */
  settleS: number
  qos: QoS
  /** Payload bytes (at least 16: the bench header rides inside). */
  payloadSize: number
  /** Messages per second per publisher; 0 means as fast as the socket takes them. */
  rate: number
  /** Run for this long (ms)… */
  durationMs: number
  /** …or until each publisher sent this many (0: use the duration). */
  count: number
  /** Topic template: %i publisher index, %c client id. */
  topic: string
  /** MQTT protocol level. */
  protocolVersion: 3 | 4 | 5
  /** WebSocket framing of the load generator's clients. */
  wsFraming: 'packet' | 'piggyback'
  /** Offer permessage-deflate (used where the broker accepts it). */
  wsDeflate: boolean
  /** Time allowed after the last publish for messages still in flight. */
  drainMs: number
  /** Threads the publishers are spread over, and (up to as many) the subscribers (1: all on the main thread). */
  workers: number
  /** MQTT 5: the Topic Alias Maximum the subscribers announce (0: none), to measure the bytes the broker's aliases save. */
  topicAliasMax: number
  /** Messages each publisher may have sent and not yet received by every subscriber (0: only the shared delivery window). */
  inflight: number
  /** Subscribers keep a persistent session for this many seconds (0: clean), so a durable broker stores what they get. */
  sessionExpiry: number
}

export const BENCH_HEADER_BYTES = 16

export const PLAN_DEFAULTS: Readonly<BenchPlan> = Object.freeze<BenchPlan>({
  scenario: 'fan-in',
  transports: ['tcp'],
  publishers: 10,
  subscribers: 1,
  connections: 100,
  connectRate: 0,
  settleS: 0,
  qos: 0,
  payloadSize: 16,
  rate: 0,
  durationMs: 5000,
  count: 0,
  topic: 'mqttws/bench/%i',
  protocolVersion: 4,
  wsFraming: 'packet',
  wsDeflate: false,
  drainMs: 2000,
  workers: 1,
  inflight: 0,
  topicAliasMax: 0,
  sessionExpiry: 0,
})

function positive(name: string, v: number, min: number, max: number): number {
  if (!Number.isFinite(v) || v < min || v > max || !Number.isInteger(v)) {
    throw new ConfigError(`${name} is ${v}: it must be a whole number from ${min} to ${max}`)
  }
  return v
}

/** Fills defaults per scenario and checks every value, naming the bad one. */
export function resolvePlan(input: Partial<BenchPlan>): BenchPlan {
  const p: BenchPlan = {...PLAN_DEFAULTS, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined))}
  if (!SCENARIOS.includes(p.scenario)) throw new ConfigError(`scenario "${p.scenario}" is not one of ${SCENARIOS.join(', ')}`)
  if (p.transports.length === 0) throw new ConfigError('no transport: give --transports tcp,ws,… (tcp, tls, ws, wss)')
  for (const t of p.transports) if (!TRANSPORTS.includes(t)) throw new ConfigError(`transport "${t}" is not one of ${TRANSPORTS.join(', ')}`)
  if (new Set(p.transports).size !== p.transports.length) throw new ConfigError(`--transports lists a transport twice: ${p.transports.join(',')}`)
  switch (p.scenario) {
    case 'fan-in':
      p.subscribers = 1
      break
    case 'fan-out':
      p.publishers = 1
      break
    case 'latency':
      p.publishers = 1
      p.subscribers = 1
      if (p.rate === 0) p.rate = 1000
      break
    case 'pub':
      p.subscribers = 0
      break
    case 'sub':
      p.publishers = 0
      break
    case 'conn':
      p.publishers = 0
      p.subscribers = 0
      break
  }
  positive('--publishers', p.publishers, 0, 10_000)
  positive('--subscribers', p.subscribers, 0, 10_000)
  positive('--connections', p.connections, 1, 100_000)
  positive('--connect-rate', p.connectRate, 0, 1_000_000)
  positive('--settle', p.settleS, 0, 600)
  positive('--qos', p.qos, 0, 2)
  positive('--payload-size', p.payloadSize, BENCH_HEADER_BYTES, 256 * 1024 * 1024)
  positive('--rate', p.rate, 0, 10_000_000)
  positive('--duration', p.durationMs, 100, 24 * 3600 * 1000)
  positive('--count', p.count, 0, 1_000_000_000)
  positive('--drain', p.drainMs, 0, 600_000)
  positive('--workers', p.workers, 1, 64)
  positive('--inflight', p.inflight, 0, 1_000_000)
  positive('--topic-alias-max', p.topicAliasMax, 0, 65_535)
  if (p.topicAliasMax > 0 && p.protocolVersion !== 5) throw new ConfigError(`--topic-alias-max ${p.topicAliasMax}: topic aliases are MQTT 5; add -V 5`)
  if (p.topicAliasMax > 0 && p.wsDeflate) throw new ConfigError(`--topic-alias-max with --ws-deflate: the deflate clients do not count alias bytes; measure one or the other`)
  positive('--session-expiry', p.sessionExpiry, 0, 0xffffffff)
  if (p.topic === '') throw new ConfigError('--topic is empty')
  return Object.freeze(p)
}

/** Expands %i (index) and %c (client id) in a topic template. */
export function topicFor(template: string, index: number, clientId: string): string {
  return template.replaceAll('%i', String(index)).replaceAll('%c', clientId)
}

/**
 * Several brokers of one transport (bench -L URL -L URL…, e.g. the nodes of a cluster): the
 * URLs of a transport travel as one string, separated by spaces (a URL holds no space:
 * joinUrls writes one as %20, as new URL() does), so one URL is the plain case.
 */
export function joinUrls(urls: readonly string[]): string {
  return urls.map((u) => u.replaceAll(' ', '%20')).join(' ')
}

/** The URLs of a transport (joinUrls), in order. */
export function urlList(urls: string): string[] {
  return urls.split(' ').filter((u) => u !== '')
}

/** Subscribers are numbered from here, so that one publisher and one subscriber (latency) are on two brokers. */
export const SUBSCRIBER_URL_OFFSET = 1

/**
 * The broker of client `index` (publishers 0…, subscribers SUBSCRIBER_URL_OFFSET…, conn
 * connections 0…): round-robin over the transport's URLs.
 */
export function urlFor(urls: string, index: number): string {
  const space = urls.indexOf(' ')
  if (space === -1) return urls
  const list = urlList(urls)
  return list[index % list.length]
}
