/** --baseline previous.json --max-regression 10%: compare headline figures with an earlier run. */
import {ConfigError} from '../errors.js'
import type {BenchResult} from './result.js'
import {fromBenchJson} from './json.js'

export interface Regression {
  transport: string
  figure: 'msgs_per_s' | 'recv_per_s' | 'p99_ms'
  baseline: number
  current: number
  /** Relative change in the bad direction, e.g. 0.15 = 15 % worse. */
  worse: number
}

/** Checks that a parsed JSON document is a bench result (--json of version 1 or 2). */
export function asBenchResult(data: unknown, source: string): BenchResult {
  return fromBenchJson(data, source)
}

/** "10%" or "0.1" → 0.1 */
export function parseRegression(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim())
  if (!m) throw new ConfigError(`--max-regression "${text}" is not a percentage like 10%`)
  const v = m[2] ? Number(m[1]) / 100 : Number(m[1])
  if (v < 0 || v >= 10) throw new ConfigError(`--max-regression "${text}" is out of range`)
  return v
}

/** Figures worse than the baseline by more than `max`, per transport present in both runs. */
export function compareWithBaseline(current: BenchResult, baseline: BenchResult, max: number): Regression[] {
  const out: Regression[] = []
  for (const cur of current.results) {
    const base = baseline.results.find((b) => b.transport === cur.transport)
    if (!base) continue
    for (const figure of ['msgs_per_s', 'recv_per_s'] as const) {
      if (base[figure] > 0 && cur[figure] < base[figure] * (1 - max)) {
        out.push({transport: cur.transport, figure, baseline: base[figure], current: cur[figure], worse: 1 - cur[figure] / base[figure]})
      }
    }
    const b99 = base.latency.p99_ms
    const c99 = cur.latency.p99_ms
    if (b99 > 0 && c99 > b99 * (1 + max)) out.push({transport: cur.transport, figure: 'p99_ms', baseline: b99, current: c99, worse: c99 / b99 - 1})
  }
  return out
}
