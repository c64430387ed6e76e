/** The CI gate: --assert expressions and the --baseline comparison, as one list of checks. */
import type {Assertion} from './assert.js'
import {compareWithBaseline} from './baseline.js'
import {assertionScope} from './result.js'
import type {BenchResult} from './result.js'

export interface Check {
  text: string
  ok: boolean
  detail: string
}

export function evaluateGates(result: BenchResult, assertions: readonly Assertion[], baseline: BenchResult | undefined, maxRegression: number): Check[] {
  const scope = assertionScope(result)
  const checks: Check[] = assertions.map((a) => ({text: a.text, ...a.evaluate(scope)}))
  if (baseline) {
    const pct = Math.round(maxRegression * 100)
    const regressions = compareWithBaseline(result, baseline, maxRegression)
    for (const r of regressions) {
      checks.push({text: `${r.transport}.${r.figure} within ${pct}% of the baseline`, ok: false, detail: `${r.baseline} → ${r.current}, ${Math.round(r.worse * 100)}% worse`})
    }
    if (regressions.length === 0) checks.push({text: `no figure more than ${pct}% worse than the baseline`, ok: true, detail: ''})
  }
  return checks
}
