/** `mqttws banned`: the bans as a table (no colours: render.ts's table does the layout). */
import type {BanInfo} from '../core/guard/bans.js'
import {table} from './render.js'

export function renderBansTable(rows: readonly BanInfo[]): string {
  if (rows.length === 0) return 'no bans'
  return table(
    ['kind', 'value', 'regex', 'until', 'source', 'reason', 'since'],
    rows.map((b) => [b.kind, b.value, b.regex ? 'yes' : '', b.until ?? 'removed by hand', b.source, b.reason ?? '', b.createdAt]),
    ['l', 'l', 'l', 'l', 'l', 'l', 'l'],
  )
}

export function renderBanLine(verb: string, b: BanInfo, disconnected?: number): string {
  const until = b.until === null ? '' : ` until ${b.until}`
  const kicked = disconnected === undefined ? '' : `; ${disconnected} connected client${disconnected === 1 ? '' : 's'} disconnected`
  return `${verb} ${b.kind} ${b.regex ? 'pattern ' : ''}${b.value}${until}${kicked}`
}

const UNITS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86_400}

/** "300", "90s", "5m", "2h", "7d" → seconds; undefined when it is none of those. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)\s*([smhd]?)$/i.exec(text.trim())
  if (!m) return undefined
  const n = Number(m[1]) * UNITS[(m[2] || 's').toLowerCase()]
  return n > 0 ? n : undefined
}
