/**
 * ACL lists in EMQX's format: what a JWT's `acl` claim or an HTTP authenticator's `acl`
 * answer grants a client, and the `authorization.rules` of the configuration file.
 *
 *   [{"permission": "allow", "action": "publish", "topic": "t/${clientid}", "qos": [0, 1], "retain": false},
 *    {"permission": "deny", "action": "all", "topic": "eq #"}]
 *
 * First match decides. `action` is publish, subscribe or all ("pub"/"sub" too); "eq FILTER"
 * compares the filter as text. ${clientid} and ${username} are whole levels (rule.ts). The
 * older form {"pub": [...], "sub": [...], "all": [...]} (allow only) is read too. Config rules
 * may also name whom they apply to: `username` and/or `clientid` (exact).
 */
import type {Principal} from '../broker/auth.js'
import type {Action, Permission, Rule} from './rule.js'
import {compileRule, ruleMatches, ruleTopicProblem} from './rule.js'

export interface ListRule extends Rule {
  readonly username?: string
  readonly clientid?: string
}

const ACTIONS: Record<string, {publish: boolean; subscribe: boolean}> = {
  publish: {publish: true, subscribe: false},
  pub: {publish: true, subscribe: false},
  subscribe: {publish: false, subscribe: true},
  sub: {publish: false, subscribe: true},
  all: {publish: true, subscribe: true},
}

/** Compiles an EMQX ACL list; throws an Error saying which entry is wrong and why. */
export function compileAclList(value: unknown, where: string, allowWho = false): ListRule[] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return compileLegacy(value as Record<string, unknown>, where)
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list of rules ({permission, action, topic}), got ${JSON.stringify(value)?.slice(0, 60)}`)
  return value.map((entry: unknown, i) => compileEntry(entry, `${where}[${i}]`, allowWho))
}

function compileEntry(entry: unknown, where: string, allowWho: boolean): ListRule {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new Error(`${where}: expected an object {permission, action, topic}`)
  const e = entry as Record<string, unknown>
  const known = new Set(['permission', 'action', 'topic', 'topics', 'qos', 'retain', ...(allowWho ? ['username', 'clientid'] : [])])
  for (const k of Object.keys(e)) if (!known.has(k)) throw new Error(`${where}: unknown key "${k}" (known: ${[...known].join(', ')})`)
  const permission = e.permission
  if (permission !== 'allow' && permission !== 'deny') throw new Error(`${where}.permission: expected "allow" or "deny", got ${JSON.stringify(permission)}`)
  const action = ACTIONS[String(e.action ?? 'all')]
  if (action === undefined) throw new Error(`${where}.action: expected publish, subscribe or all, got ${JSON.stringify(e.action)}`)
  const topics = e.topics !== undefined ? e.topics : [e.topic]
  if (!Array.isArray(topics) || topics.length !== 1 || typeof topics[0] !== 'string') throw new Error(`${where}.topic: expected one topic filter (a string)`)
  let qos: number[] | undefined
  if (e.qos !== undefined) {
    const list = Array.isArray(e.qos) ? e.qos : [e.qos]
    if (!list.every((q) => q === 0 || q === 1 || q === 2)) throw new Error(`${where}.qos: expected 0, 1, 2 or a list of them, got ${JSON.stringify(e.qos)}`)
    qos = list as number[]
  }
  let retain: boolean | undefined
  if (e.retain !== undefined && e.retain !== 'all') {
    if (typeof e.retain !== 'boolean') throw new Error(`${where}.retain: expected true, false or "all", got ${JSON.stringify(e.retain)}`)
    retain = e.retain
  }
  for (const k of ['username', 'clientid'] as const) {
    if (e[k] !== undefined && (typeof e[k] !== 'string' || e[k] === '')) throw new Error(`${where}.${k}: expected a non-empty string`)
  }
  return {...rule(permission, action, topics[0], where, qos, retain), username: e.username as string | undefined, clientid: e.clientid as string | undefined}
}

function rule(permission: Permission, action: {publish: boolean; subscribe: boolean}, text: string, where: string, qos?: number[], retain?: boolean): Rule {
  const exact = text.startsWith('eq ')
  const topic = exact ? text.slice(3).trim() : text
  const problem = exact ? (topic.length === 0 ? 'the topic is empty' : undefined) : ruleTopicProblem(topic)
  if (problem !== undefined) throw new Error(`${where}.topic: ${problem}`)
  return compileRule({permission, ...action, topic, exact, qos, retain}, 'emqx')
}

function compileLegacy(value: Record<string, unknown>, where: string): ListRule[] {
  const out: ListRule[] = []
  for (const [key, topics] of Object.entries(value)) {
    const action = key === 'pub' || key === 'sub' || key === 'all' ? ACTIONS[key] : undefined
    if (action === undefined) throw new Error(`${where}: unknown key "${key}" (expected pub, sub or all)`)
    if (!Array.isArray(topics) || !topics.every((t) => typeof t === 'string')) throw new Error(`${where}.${key}: expected a list of topic filters`)
    for (const t of topics as string[]) out.push(rule('allow', action, t, `${where}.${key}`))
  }
  return out
}

/** The list's answer: the first rule that matches the request decides; undefined when none does. */
export function checkAclList(rules: readonly ListRule[], p: Principal, action: Action, topic: string, parts: readonly string[], qos: number, retain: boolean): Permission | undefined {
  for (const r of rules) {
    if (r.username !== undefined && r.username !== p.username) continue
    if (r.clientid !== undefined && r.clientid !== p.clientId) continue
    if (ruleMatches(r, p, action, topic, parts, qos, retain)) return r.permission
  }
  return undefined
}
