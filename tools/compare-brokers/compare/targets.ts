/** The targets, each a check of mqttws's figure against a peer's, a number, or every round. */
import type {BrokerName} from '../peers/start.js'
import {median} from './measure.js'
import type {Sample} from './measure.js'

/** SKIP: the peer did not take part, or its figure is not comparable (it lost messages). */
export type Verdict = 'PASS' | 'FAIL' | 'SKIP'

/** Whether a broker lost deliveries (or connections) in any round of the row: its figure is then not a sustainable rate. */
export type Lossy = (broker: BrokerName) => boolean

/** Every round's sample of every broker that took part, for one scenario. */
export class Figures {
  constructor(private readonly samples: ReadonlyMap<BrokerName, Sample[]>) {}

  tookPart(broker: BrokerName): boolean {
    return this.samples.has(broker)
  }

  rounds(broker: BrokerName): Sample[] {
    return this.samples.get(broker) ?? []
  }

  /** Median over the rounds that have the figure; undefined when none has it. */
  median(broker: BrokerName, key: string): number | undefined {
    const xs = this.rounds(broker).flatMap((s) => (s[key] === undefined ? [] : [s[key]]))
    return xs.length === 0 ? undefined : median(xs)
  }
}

export interface Target {
  text: string
  /** `key` is the row's figure, e.g. 'ws.recv_per_s'. */
  check(f: Figures, key: string, lossy: Lossy): Verdict
  /** What the target works out to in this run, when that is not in the row already. */
  detail?(f: Figures): string
}

const LABEL: Record<BrokerName, string> = {mqttws: 'mqttws', mosquitto: 'Mosquitto', aedes: 'Aedes'}

export function brokerLabel(b: BrokerName): string {
  return LABEL[b]
}

function verdict(ok: boolean | undefined): Verdict {
  return ok === true ? 'PASS' : 'FAIL'
}

/**
 * mqttws against a peer's median: a lossy mqttws fails, a lossy peer is not compared (its
 * figure is not what it sustains), a peer that did not take part is skipped.
 */
function againstPeer(peer: BrokerName, f: Figures, key: string, lossy: Lossy, ok: (ours: number, theirs: number) => boolean): Verdict {
  if (!f.tookPart(peer)) return 'SKIP'
  if (lossy('mqttws')) return 'FAIL'
  if (lossy(peer)) return 'SKIP'
  const ours = f.median('mqttws', key)
  const theirs = f.median(peer, key)
  return verdict(ours !== undefined && theirs !== undefined && ok(ours, theirs))
}

/** mqttws's median ≥ factor × the peer's median (higher is better). */
export function atLeastTimes(peer: BrokerName, factor: number): Target {
  return {text: `≥ ${factor}× ${LABEL[peer]}`, check: (f, key, lossy) => againstPeer(peer, f, key, lossy, (ours, theirs) => ours >= factor * theirs)}
}

/** mqttws's median ≤ factor × the peer's median (lower is better: latency, CPU). */
export function atMostTimes(peer: BrokerName, factor: number): Target {
  return {text: factor === 1 ? `≤ ${LABEL[peer]}` : `≤ ${factor}× ${LABEL[peer]}`, check: (f, key, lossy) => againstPeer(peer, f, key, lossy, (ours, theirs) => ours <= factor * theirs)}
}

/** mqttws's median ≤ limit (lower is better); `text` shows the limit in the row's unit. */
export function atMost(limit: number, text: string): Target {
  return {text: `≤ ${text}`, check: (f, key) => verdict((f.median('mqttws', key) ?? Infinity) <= limit)}
}

/** mqttws's figure is `value` in every round. */
export function exactly(value: number, text: string): Target {
  return {
    text: `= ${text}`,
    check: (f, key) => verdict(f.rounds('mqttws').length > 0 && f.rounds('mqttws').every((s) => s[key] === value)),
  }
}

/** mqttws's median ≤ factor × the median of another of its figures (e.g. `node -e 0`'s wall time). */
export function atMostTimesOf(otherKey: string, factor: number, otherText: string): Target {
  return {
    text: `≤ ${factor}× ${otherText}`,
    detail(f) {
      const base = f.median('mqttws', otherKey)
      return base === undefined ? '' : `${otherText}: ${base} ms, so ≤ ${factor * base} ms`
    },
    check(f, key) {
      const ours = f.median('mqttws', key)
      const base = f.median('mqttws', otherKey)
      return verdict(ours !== undefined && base !== undefined && ours <= factor * base)
    },
  }
}

/** QoS 1: in every round, mqttws delivered each message sent, once (received = sent, nothing lost). */
export function lossless(transport: string): Target {
  const ok = (s: Sample): boolean => (s[`${transport}.sent`] ?? 0) > 0 && s[`${transport}.received`] === s[`${transport}.sent`] && s[`${transport}.lost`] === 0
  return {text: 'received = sent', check: (f) => verdict(f.rounds('mqttws').length > 0 && f.rounds('mqttws').every(ok))}
}

/** conn: in every round, mqttws accepted every connection. */
export function allConnected(transport: string, connections: number): Target {
  return {
    text: `all ${connections.toLocaleString('en-US')} open`,
    check: (f) => verdict(f.rounds('mqttws').length > 0 && f.rounds('mqttws').every((s) => s[`${transport}.connects`] === connections)),
  }
}

/** Several targets in one row: FAIL if any fails, else PASS if any passed, else SKIP; no targets is information only. */
export function combine(verdicts: Verdict[]): Verdict | 'info' {
  if (verdicts.length === 0) return 'info'
  if (verdicts.includes('FAIL')) return 'FAIL'
  return verdicts.includes('PASS') ? 'PASS' : 'SKIP'
}
