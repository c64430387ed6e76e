/**
 * Mosquitto's acl_file syntax (mosquitto.conf(5)), so users can bring theirs:
 *
 *   # a comment
 *   topic read $SYS/#                 rules before any "user" line: anonymous clients
 *   user alice                        the rules below are alice's (the user name, not the client id)
 *   topic readwrite alice/#
 *   topic deny alice/secret/#
 *   pattern write devices/%c/status   patterns apply to every client; %u and %c are whole levels
 *
 * Access is read (subscribe and receive), write (publish), readwrite (the default when
 * omitted) or deny. As in Mosquitto, deny rules are looked at before grants: a request is
 * refused when a deny rule of the client's own block or a deny pattern matches it, allowed
 * when a grant of either matches it, and otherwise left to the next source (then noMatch).
 */
import type {Principal} from '../broker/auth.js'
import {ConfigError} from '../errors.js'
import type {Action, Permission, Rule} from './rule.js'
import {compileRule, ruleMatches, ruleTopicProblem} from './rule.js'

/** Rules of one block, denies apart so they are looked at first. */
interface Block {
  denies: Rule[]
  grants: Rule[]
}

export interface AclFileRules {
  /** Rules before the first "user" line: clients without a user name. */
  readonly anonymous: Block
  readonly users: ReadonlyMap<string, Block>
  readonly patterns: Block
  readonly ruleCount: number
}

const ACCESS: Record<string, {permission: Permission; publish: boolean; subscribe: boolean}> = {
  read: {permission: 'allow', publish: false, subscribe: true},
  write: {permission: 'allow', publish: true, subscribe: false},
  readwrite: {permission: 'allow', publish: true, subscribe: true},
  deny: {permission: 'deny', publish: true, subscribe: true},
}

function emptyBlock(): Block {
  return {denies: [], grants: []}
}

/** Parses acl_file text; `source` names it in errors ("acl.conf:12: …"). Throws ConfigError. */
export function parseAclFile(text: string, source: string): AclFileRules {
  const anonymous = emptyBlock()
  const users = new Map<string, Block>()
  const patterns = emptyBlock()
  let current = anonymous
  let ruleCount = 0
  const lines = text.split(/\r?\n/)
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim()
    if (line.length === 0 || line.startsWith('#')) continue
    const where = `${source}:${n + 1}`
    const space = line.search(/\s/)
    const keyword = space === -1 ? line : line.slice(0, space)
    const rest = space === -1 ? '' : line.slice(space).trim()
    if (keyword === 'user') {
      if (rest.length === 0) throw new ConfigError(`${where}: "user" needs a user name (user NAME)`)
      current = users.get(rest) ?? emptyBlock()
      users.set(rest, current)
      continue
    }
    if (keyword !== 'topic' && keyword !== 'pattern') {
      throw new ConfigError(`${where}: unknown line "${line.slice(0, 60)}": expected "user NAME", "topic [read|write|readwrite|deny] FILTER" or "pattern [read|write|readwrite|deny] FILTER"`)
    }
    if (Object.hasOwn(ACCESS, rest)) throw new ConfigError(`${where}: "${keyword} ${rest}" needs a topic filter (${keyword} ${rest} FILTER)`)
    const m = /^(read|write|readwrite|deny)\s+(.+)$/.exec(rest)
    const access = m === null ? 'readwrite' : m[1]
    const topic = m === null ? rest : m[2].trim()
    if (topic.length === 0) throw new ConfigError(`${where}: "${keyword}" needs a topic filter`)
    const problem = ruleTopicProblem(topic)
    if (problem !== undefined) throw new ConfigError(`${where}: ${problem}`)
    const rule = compileRule({...ACCESS[access], topic}, keyword === 'pattern' ? 'mosquitto' : 'none')
    const block = keyword === 'pattern' ? patterns : current
    ;(rule.permission === 'deny' ? block.denies : block.grants).push(rule)
    ruleCount++
  }
  return Object.freeze({anonymous, users, patterns, ruleCount})
}

/** The file's answer for one request: a matching deny, else a matching grant, else undefined (no match). */
export function checkAclFile(rules: AclFileRules, p: Principal, action: Action, topic: string, parts: readonly string[], qos: number, retain: boolean): Permission | undefined {
  const own = p.username === undefined ? rules.anonymous : rules.users.get(p.username)
  if (own !== undefined && some(own.denies, p, action, topic, parts, qos, retain)) return 'deny'
  if (some(rules.patterns.denies, p, action, topic, parts, qos, retain)) return 'deny'
  if (own !== undefined && some(own.grants, p, action, topic, parts, qos, retain)) return 'allow'
  if (some(rules.patterns.grants, p, action, topic, parts, qos, retain)) return 'allow'
  return undefined
}

function some(list: readonly Rule[], p: Principal, action: Action, topic: string, parts: readonly string[], qos: number, retain: boolean): boolean {
  for (const r of list) if (ruleMatches(r, p, action, topic, parts, qos, retain)) return true
  return false
}
