/** The line under the listeners table that says how clients are authorized (GET /api/v1/auth's "authorization"). */
import chalk from 'chalk'

interface AuthzInfo {
  loaded?: boolean
  noMatch?: string
  rules?: number
  aclFile?: string
  aclFileRules?: number
  inlineRules?: number
  http?: {url?: string}
  publishDenied?: number
  subscribeDenied?: number
  deliveryDenied?: number
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`

/** Undefined when the broker checks nothing (no authorization configured). */
export function renderAuthzLine(auth: unknown): string | undefined {
  const a = (auth as {authorization?: AuthzInfo} | undefined)?.authorization
  if (a === undefined) return undefined
  if (a.loaded === false) return chalk.yellow('authorization: not loaded yet (everything is refused)')
  const sources: string[] = []
  if (a.rules) sources.push(`config (${plural(a.rules, 'rule')})`)
  if (a.aclFile !== undefined) sources.push(`ACL file ${a.aclFile} (${plural(a.aclFileRules ?? 0, 'rule')})`)
  if (a.inlineRules) sources.push(`inline ACL (${plural(a.inlineRules, 'rule')})`)
  if (a.http?.url !== undefined) sources.push(`HTTP ${a.http.url}`)
  const from = sources.length === 0 ? 'token ACLs only' : sources.join(' → ')
  const noMatch = a.noMatch === 'allow' ? chalk.yellow('allow') : 'deny'
  const refused = `${plural(a.publishDenied ?? 0, 'publish', 'publishes')}, ${plural(a.subscribeDenied ?? 0, 'subscription')}, ${plural(a.deliveryDenied ?? 0, 'delivery', 'deliveries')}`
  return `authorization: ${from}, no match: ${noMatch}; refused: ${refused}`
}
