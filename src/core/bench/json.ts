/**
 * bench's --json document (docs/json.md): field names in camelCase like every other --json
 * output. Inside, the figures keep their snake_case names (they are --assert's variables and
 * the CSV columns); they are renamed at this boundary, both ways: `--baseline` reads
 * documents of version 1 (snake_case figures) and 2.
 */
import {ConfigError} from '../errors.js'
import {camelFigure} from './result.js'
import type {BenchResult} from './result.js'

export const BENCH_JSON_VERSION = 2


export function snakeName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

/** Maps whose keys are values (failure reasons), not field names: left as they are. */
const VALUE_KEYED = new Set(['connect_failures', 'connectFailures'])

function renameKeys(value: unknown, rename: (k: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => renameKeys(v, rename))
  if (typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[rename(k)] = VALUE_KEYED.has(k) ? v : renameKeys(v, rename)
  return out
}

/** The result as the --json document: version 2, per-transport figures in camelCase. */
export function benchJson<T extends BenchResult>(result: T): Record<string, unknown> {
  const doc: Record<string, unknown> = {...(result as object), version: BENCH_JSON_VERSION, results: renameKeys(result.results, camelFigure)}
  if (result.ceiling) doc.ceiling = renameKeys(result.ceiling, camelFigure)
  return doc
}

/** A --json document of version 1 or 2 back into a result. */
export function fromBenchJson(data: unknown, source: string): BenchResult {
  const doc = data as {tool?: unknown; version?: unknown; results?: unknown; ceiling?: unknown} | null
  if (!doc || doc.tool !== 'mqttws bench' || !Array.isArray(doc.results)) throw new ConfigError(`${source} is not a result of mqttws bench --json`)
  if (doc.version === 1) return doc as unknown as BenchResult
  if (doc.version !== BENCH_JSON_VERSION) throw new ConfigError(`${source} is a bench result of version ${String(doc.version)}: this mqttws reads versions 1 and ${BENCH_JSON_VERSION}`)
  const out = {...doc, version: 1, results: renameKeys(doc.results, snakeName)} as Record<string, unknown>
  if (doc.ceiling !== undefined) out.ceiling = renameKeys(doc.ceiling, snakeName)
  return out as unknown as BenchResult
}
