/**
 * What bench checks and says before it runs: --assert expressions name figures that the
 * run will have (a typo fails at once, not after the whole run), and the headline that
 * says what is measured.
 */
import type {Assertion} from '../core/bench/assert.js'
import type {BenchPlan} from '../core/bench/plan.js'
import {ASSERT_FIGURES, camelFigure} from '../core/bench/result.js'
import {ConfigError} from '../core/errors.js'
import {closest} from './suggest.js'

/** Throws a usage error for the first name an assertion uses that the run will not have. */
export function checkAssertionNames(assertions: readonly Assertion[], plan: Pick<BenchPlan, 'scenario' | 'transports'>): void {
  const figures = ASSERT_FIGURES.filter((f) => plan.scenario === 'conn' || !['connects_per_s', 'connects', 'broker_bytes_per_connection', 'broker_cpu_per_connect_us'].includes(f))
  const known = new Set<string>([...figures, ...figures.map(camelFigure)])
  for (const t of plan.transports) for (const f of figures) known.add(`${t}.${f}`).add(`${t}.${camelFigure(f)}`)
  for (const a of assertions) {
    for (const name of a.names) {
      if (known.has(name)) continue
      const dot = name.indexOf('.')
      const transport = dot > 0 ? name.slice(0, dot) : undefined
      let why: string
      if (transport !== undefined && !plan.transports.includes(transport as BenchPlan['transports'][number])) {
        why = `this run measures ${plan.transports.join(', ')}, not ${transport}`
      } else {
        const guess = closest(name, known)
        why = `unknown figure${guess === undefined ? '' : `: did you mean ${guess}?`}`
      }
      throw new ConfigError(`--assert '${a.text}': "${name}": ${why} (figures: ${figures.join(', ')}; per transport as ${plan.transports[0]}.recv_per_s)`)
    }
  }
}

const VERSION_NAME: Record<number, string> = {3: '3.1', 4: '3.1.1', 5: '5'}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`
}

/** One line: scenario, clients, QoS, payload, duration or count, rate, target, MQTT version. */
export function benchHeadline(plan: BenchPlan, target: string): string {
  const who =
    plan.scenario === 'conn'
      ? `${plural(plan.connections, 'connection')}${plan.connectRate > 0 ? ` at ${plan.connectRate}/s` : ''}`
      : `${plural(plan.publishers, 'publisher')} → ${plural(plan.subscribers, 'subscriber')}, QoS ${plan.qos}, ${plan.payloadSize}-byte payload${plan.rate > 0 ? `, ${plan.rate} msg/s each` : ''}`
  const length = plan.scenario === 'conn' ? '' : plan.count > 0 ? `, ${plan.count} messages per publisher` : `, ${plan.durationMs / 1000} s per transport`
  return `bench ${plan.scenario}: ${who}${length}, MQTT ${VERSION_NAME[plan.protocolVersion]}, over ${plan.transports.join(', ')}; target: ${target}`
}
