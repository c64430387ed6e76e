/** The ratio table: one row per figure, a column per broker, the ratios, losses, target and verdict. */
import type {BrokerName} from '../peers/start.js'
import type {Sample} from './measure.js'
import type {Row, Scenario, Unit} from './scenarios.js'
import {brokerLabel, combine, Figures} from './targets.js'
import type {Verdict} from './targets.js'

/** scenario id → broker → one sample per round (without the figures of runs that failed). */
export type Results = Map<string, Map<BrokerName, Sample[]>>

export interface Table {
  markdown: string
  /** "scenario transport" of each row that missed a target. */
  failed: string[]
  /** Rows with targets that were checked. */
  checked: number
}

const NONE = '–'

function formatValue(unit: Unit, v: number | undefined): string {
  if (v === undefined) return 'failed'
  if (unit === 'msg/s') return Math.round(v).toLocaleString('en-US')
  if (unit === 'KiB/conn') return (v / 1024).toFixed(2)
  if (unit === 'B/msg') return v.toFixed(2)
  // Latencies below a few ms in µs steps; wall times of whole commands in ms.
  if (unit === 'ms') return v.toFixed(v < 10 ? 3 : 0)
  return Math.round(v).toLocaleString('en-US')
}

/** Lost of expected over all rounds, or undefined when the row counts no loss. */
function lossOf(row: Row, rounds: Sample[]): [number, number] | undefined {
  if (!row.loss || rounds.length === 0) return undefined
  let lost = 0
  let expected = 0
  for (const s of rounds) {
    const [l, e] = row.loss(s)
    lost += l
    expected += e
  }
  return [lost, expected]
}

function formatLoss(row: Row, rounds: Sample[]): string {
  const loss = lossOf(row, rounds)
  if (loss === undefined) return NONE
  const [lost, expected] = loss
  if (lost === 0) return '0'
  const pct = (100 * lost) / Math.max(expected, 1)
  return pct < 0.1 ? '<0.1%' : `${pct.toPrecision(2)}%`
}

function ratio(ours: number | undefined, theirs: number | undefined): string {
  if (ours === undefined || theirs === undefined || theirs === 0) return NONE
  return `${(ours / theirs).toFixed(2)}×`
}

interface RenderedRow {
  cells: string[]
  verdict: Verdict | 'info'
  details: string[]
}

/** Marks a figure measured with losses: it is what was left, not a sustainable rate, and is not ranked. */
const NOT_COMPARABLE = 'n/c'

function renderRow(scenario: Scenario, row: Row, figures: Figures, brokers: readonly BrokerName[]): RenderedRow {
  const present = (b: BrokerName): boolean => scenario.brokers.includes(b)
  const lossy = (b: BrokerName): boolean => (lossOf(row, figures.rounds(b))?.[0] ?? 0) > 0
  const value = (b: BrokerName): string => {
    if (!present(b)) return NONE
    const text = formatValue(row.unit, figures.median(b, row.key))
    return lossy(b) ? `${text} (${NOT_COMPARABLE})` : text
  }
  const ours = figures.median('mqttws', row.key)
  const peers = brokers.filter((b) => b !== 'mqttws')
  const verdict = combine(row.targets.map((t) => t.check(figures, row.key, lossy)))
  const details = [...row.targets.flatMap((t) => (t.detail ? [t.detail(figures)] : [])), row.note?.(figures) ?? ''].filter((d) => d !== '')
  const ratioTo = (p: BrokerName): string => {
    if (!present(p)) return NONE
    if (lossy(p) || lossy('mqttws')) return NOT_COMPARABLE
    return ratio(ours, figures.median(p, row.key))
  }
  return {
    cells: [
      scenario.title,
      row.figure === undefined ? row.transport : `${row.transport} ${row.figure}`,
      row.unit,
      ...brokers.map(value),
      ...peers.map(ratioTo),
      brokers.map((b) => (present(b) ? formatLoss(row, figures.rounds(b)) : NONE)).join(' / '),
      row.targets.map((t) => t.text).join(', ') || NONE,
      verdict,
    ],
    verdict,
    details,
  }
}

/** A markdown table, padded so that it also reads well in a terminal. */
function markdownTable(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(width[i]!)).join(' | ')} |`
  return [line(header), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

export function buildTable(scenarios: Scenario[], results: Results, brokers: readonly BrokerName[], rowsOf: (s: Scenario) => Row[]): Table {
  const peers = brokers.filter((b) => b !== 'mqttws')
  const header = [
    'Scenario',
    'Transport',
    'Unit',
    ...brokers.map(brokerLabel),
    ...peers.map((p) => `mqttws/${brokerLabel(p)}`),
    `Lost (${brokers.map(brokerLabel).join(' / ')})`,
    'Target (mqttws)',
    'Result',
  ]
  const rendered = scenarios.flatMap((s) => {
    const figures = new Figures(results.get(s.id) ?? new Map())
    return rowsOf(s).map((row) => ({id: `${s.id} ${row.transport}`, ...renderRow(s, row, figures, brokers)}))
  })
  const details = rendered.flatMap((r) => r.details.map((d) => `- ${r.id}: ${d}`))
  return {
    markdown: [markdownTable(header, rendered.map((r) => r.cells)), ...(details.length > 0 ? ['', ...details] : [])].join('\n'),
    failed: rendered.filter((r) => r.verdict === 'FAIL').map((r) => r.id),
    checked: rendered.filter((r) => r.verdict === 'PASS' || r.verdict === 'FAIL').length,
  }
}
