/**
 * mqttws side by side with Mosquitto and Aedes: the same `mqttws bench` scenarios against
 * each broker on loopback, interleaved and repeated, then the ratio table with the issue's
 * targets. Exits 1 when a target is missed (after printing everything), 2 on bad options.
 *
 *   npx tsx tools/compare-brokers/compare-brokers.ts [--rounds N] [--duration S] [--only fan-in,conn,…] [--markdown FILE]
 *   npm run bench:peers          (builds first)
 */
import {writeFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {installCleanup, isStopping, stopAllChildren} from './compare/children.js'
import {describeMachine} from './compare/machine.js'
import type {Sample} from './compare/measure.js'
import {IN_FLIGHT, SCENARIOS} from './compare/scenarios.js'
import type {CompareOptions, Scenario, Transport} from './compare/scenarios.js'
import {buildTable} from './compare/table.js'
import type {Results} from './compare/table.js'
import {BROKERS, hasMosquitto, startBroker} from './peers/start.js'
import type {BrokerName} from './peers/start.js'

const USAGE = `Usage: npx tsx tools/compare-brokers/compare-brokers.ts [options]
  --rounds N        rounds, brokers in rotated order each round; medians are reported (default 3)
  --duration S      seconds per transport per bench run (default 3)
  --connections N   conn: idle connections to open (default 10000)
  --only LIST       comma-separated scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}
  --markdown FILE   also write the report to FILE`

interface Cli extends CompareOptions {
  scenarios: Scenario[]
  markdown?: string
}

class UsageError extends Error {}

function positiveInt(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} ${text}: give a whole number from 1 to ${max}`)
  return n
}

function parseCli(argv: string[]): Cli | undefined {
  const {values} = parseArgs({
    args: argv,
    options: {
      rounds: {type: 'string'},
      duration: {type: 'string'},
      connections: {type: 'string'},
      only: {type: 'string'},
      markdown: {type: 'string'},
      help: {type: 'boolean', short: 'h'},
    },
  })
  if (values.help) return undefined
  const ids = values.only?.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const unknown = ids?.filter((id) => !SCENARIOS.some((s) => s.id === id)) ?? []
  if (unknown.length > 0) throw new UsageError(`--only: no scenario ${unknown.join(', ')} (there are ${SCENARIOS.map((s) => s.id).join(', ')})`)
  return {
    rounds: positiveInt('rounds', values.rounds, 3, 100),
    durationS: positiveInt('duration', values.duration, 3, 600),
    connections: positiveInt('connections', values.connections, 10_000, 15_000),
    pubRuns: 10,
    scenarios: ids ? SCENARIOS.filter((s) => ids.includes(s.id)) : SCENARIOS,
    markdown: values.markdown,
  }
}

/** Round r starts with the r-th broker: each broker gets each position once every three rounds. */
function rotate<T>(xs: readonly T[], r: number): T[] {
  const k = r % xs.length
  return [...xs.slice(k), ...xs.slice(0, k)]
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`)
}

interface Notes {
  errors: string[]
  warnings: string[]
}

/** One broker, freshly started, one measurement, stopped again whatever happens. */
async function measureOnce(scenario: Scenario, name: BrokerName, transport: Transport, o: CompareOptions, label: string, notes: Notes): Promise<Sample> {
  const broker = await startBroker(name)
  const t0 = Date.now()
  progress(`${label} (pid ${broker.pid})…`)
  try {
    const sample = await scenario.measure(broker, transport, o)
    const crash = broker.crashed()
    if (crash) notes.warnings.push(`${label}: the broker ${crash}, at the end of the run (its figures are from before)`)
    return sample
  } catch (error) {
    // A broker that died mid-run is the story, not the bench's failure to connect.
    await new Promise((r) => setTimeout(r, 100))
    const crash = broker.crashed()
    throw new Error(`${(error as Error).message}${crash ? `; the broker ${crash}` : ''}`)
  } finally {
    await broker.stop()
    progress(`${label} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }
}

/** Round by round, transport by transport, each broker in turn (the order rotated every round). */
async function runAll(cli: Cli, brokers: readonly BrokerName[], notes: Notes): Promise<Results> {
  const results: Results = new Map()
  for (const scenario of cli.scenarios) {
    const taking = brokers.filter((b) => scenario.brokers.includes(b))
    // One sample per round per broker; both transports' figures go into it ('tcp.…', 'ws.…').
    const perBroker = new Map<BrokerName, Sample[]>(taking.map((b) => [b, Array.from({length: cli.rounds}, () => ({}))]))
    results.set(scenario.id, perBroker)
    for (let r = 0; r < cli.rounds; r++) {
      for (const transport of scenario.transports) {
        for (const name of rotate(taking, r)) {
          if (isStopping()) return results
          const label = `[${scenario.id} ${transport} ${r + 1}/${cli.rounds}] ${name}`
          try {
            Object.assign(perBroker.get(name)![r]!, await measureOnce(scenario, name, transport, cli, label, notes))
          } catch (error) {
            const message = `${label}: ${(error as Error).message}`
            notes.errors.push(message)
            progress(message)
          }
        }
      }
    }
  }
  return results
}

function settingsText(cli: Cli): string {
  return `${cli.rounds} round(s), ${cli.durationS} s per transport, conn ${cli.connections.toLocaleString('en-US')} connections, pub ${cli.pubRuns} runs per round; scenarios: ${cli.scenarios.map((s) => s.id).join(', ')}`
}

async function main(): Promise<number> {
  let cli: Cli | undefined
  try {
    cli = parseCli(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (!cli) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  installCleanup()
  const brokers = BROKERS.filter((b) => b !== 'mosquitto' || hasMosquitto())
  const head = ['# mqttws vs Mosquitto vs Aedes', '', ...describeMachine(settingsText(cli)), '']
  process.stdout.write(`${head.join('\n')}\n`)
  const notes: Notes = {errors: [], warnings: []}
  const results = await runAll(cli, brokers, notes).finally(() => stopAllChildren())
  const table = buildTable(cli.scenarios, results, brokers, (s) => s.rows(cli))
  const footer = [
    '',
    `Figures are medians over ${cli.rounds} round(s); every measurement starts its broker afresh, brokers in rotated order each round.`,
    'Ratios are mqttws ÷ peer: above 1 is better for msg/s and conn/s, below 1 for KiB/conn, µs/conn, B/msg and ms.',
    'Lost: deliveries the subscribers never got, of all expected, over all rounds (conn: connections that failed).',
    'n/c: not comparable. The broker lost messages in that row, so its figure is what was left, not a rate it sustains; it is not ranked.',
    `Every publisher runs closed-loop: at most ${IN_FLIGHT} of its messages in flight (sent, not yet received; QoS 0 included: bench --inflight ${IN_FLIGHT}).`,
    ...(notes.warnings.length > 0 ? ['', 'Warnings:', ...notes.warnings.map((w) => `- ${w}`)] : []),
    ...(notes.errors.length > 0 ? ['', 'Errors (no figure from these runs):', ...notes.errors.map((e) => `- ${e}`)] : []),
    '',
    table.failed.length === 0
      ? `All ${table.checked} rows with targets: PASS`
      : `FAIL: ${table.failed.length} of ${table.checked} rows with targets missed them (${table.failed.join(', ')})`,
  ]
  const report = [...head, table.markdown, ...footer].join('\n')
  process.stdout.write(`${[table.markdown, ...footer].join('\n')}\n`)
  if (cli.markdown) writeFileSync(cli.markdown, `${report}\n`)
  return table.failed.length > 0 || notes.errors.length > 0 ? 1 : 0
}

process.exitCode = await main()
