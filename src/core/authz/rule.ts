/**
 * One authorization rule and how it matches. A rule's topic is a filter split into levels
 * once, when the rules are loaded; a level may be a placeholder for the client's identity
 * (Mosquitto's %u/%c, EMQX's ${username}/${clientid}). A placeholder is substituted only as
 * a whole level and compared as text, never as a wildcard: a user named "#" or a client id
 * "a/+" matches nothing but a level spelled exactly so, which no topic name can be
 * (CVE-2017-7650). An identity that is missing or contains "/", "+" or "#" matches nothing.
 *
 * A publish is checked against the topic name; a subscription against the filter, which the
 * rule must cover entirely (rule a/+ covers a/b and a/+, never a/#); a delivery against the
 * topic of the message. As in MQTT, a rule starting with a wildcard does not reach "$" topics.
 */
import type {Principal} from '../broker/auth.js'

export type Permission = 'allow' | 'deny'
/** What is asked: publishing to a topic, subscribing to a filter, or receiving a message on a topic. */
export type Action = 'publish' | 'subscribe' | 'read'

const PLUS = 1
const HASH = 2
const USERNAME = 3
const CLIENTID = 4
/** A level: its text, or one of PLUS, HASH, USERNAME, CLIENTID. */
type Level = string | number

export interface Rule {
  readonly permission: Permission
  /** Applies to PUBLISH (Mosquitto: write). */
  readonly publish: boolean
  /** Applies to SUBSCRIBE and to what is delivered (Mosquitto: read). */
  readonly subscribe: boolean
  /** The topic filter, as written (for messages and the admin API). */
  readonly topic: string
  readonly levels: readonly Level[]
  /** EMQX's "eq FILTER": the filter itself, compared as text (a subscription to exactly "#"). */
  readonly exact: boolean
  /** Only these QoS (EMQX); undefined: any. */
  readonly qos?: readonly number[]
  /** Only retained (true) or only not retained (false) publishes (EMQX); undefined: either. */
  readonly retain?: boolean
}

export interface RuleSpec {
  permission: Permission
  publish: boolean
  subscribe: boolean
  topic: string
  exact?: boolean
  qos?: readonly number[]
  retain?: boolean
}

export type Placeholders = 'mosquitto' | 'emqx' | 'none'

/** Compiles a rule; `placeholders` says which identity placeholders its topic may hold. */
export function compileRule(spec: RuleSpec, placeholders: Placeholders): Rule {
  const levels = spec.topic.split('/').map((l): Level => {
    if (l === '+') return PLUS
    if (l === '#') return HASH
    if (placeholders === 'mosquitto') {
      if (l === '%u') return USERNAME
      if (l === '%c') return CLIENTID
    } else if (placeholders === 'emqx') {
      if (l === '${username}') return USERNAME
      if (l === '${clientid}') return CLIENTID
    }
    return l
  })
  return Object.freeze({...spec, exact: spec.exact === true, levels: Object.freeze(levels)})
}

/** Why `topic` cannot be a rule's filter, or undefined. */
export function ruleTopicProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'the topic is empty'
  const levels = topic.split('/')
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]
    if (l === '#' && i !== levels.length - 1) return `"#" must be the last level (in "${topic}")`
    if (l.length > 1 && (l.includes('#') || l.includes('+'))) return `a wildcard must be a whole level (in "${topic}")`
  }
  return undefined
}

function identity(level: number, p: Principal): string | undefined {
  const v = level === USERNAME ? p.username : p.clientId
  if (v === undefined || v.length === 0) return undefined
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c === 0x2f || c === 0x2b || c === 0x23) return undefined
  }
  return v
}

/** Whether a level of the rule is this exact text (identity placeholders substituted). */
function levelIs(level: Level, text: string, p: Principal): boolean {
  if (typeof level === 'string') return level === text
  return identity(level, p) === text
}

/** Whether the rule's filter matches the topic name `topic` (split into `parts`). */
function matchesTopic(rule: Rule, topic: string, parts: readonly string[], p: Principal): boolean {
  if (rule.exact) return rule.topic === topic
  const levels = rule.levels
  const dollar = topic.charCodeAt(0) === 0x24
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]
    if (l === HASH) return !(i === 0 && dollar)
    if (i >= parts.length) return false
    if (l === PLUS) {
      if (i === 0 && dollar) return false
      continue
    }
    if (!levelIs(l, parts[i], p)) return false
  }
  return levels.length === parts.length
}

/** Whether every topic the subscription `filter` (split into `parts`) can match is matched by the rule. */
function coversFilter(rule: Rule, filter: string, parts: readonly string[], p: Principal): boolean {
  if (rule.exact) return rule.topic === filter
  const levels = rule.levels
  const dollar = filter.charCodeAt(0) === 0x24
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]
    if (l === HASH) return !(i === 0 && dollar)
    if (i >= parts.length) return false
    const f = parts[i]
    if (f === '#') return false
    if (l === PLUS) {
      if (i === 0 && dollar) return false
      continue
    }
    if (f === '+' || !levelIs(l, f, p)) return false
  }
  return levels.length === parts.length
}

/** Whether the rule speaks about this request (its action, topic, QoS and retain flag). */
export function ruleMatches(rule: Rule, p: Principal, action: Action, topic: string, parts: readonly string[], qos: number, retain: boolean): boolean {
  if (action === 'publish' ? !rule.publish : !rule.subscribe) return false
  if (rule.qos !== undefined && !rule.qos.includes(qos)) return false
  if (action === 'publish' && rule.retain !== undefined && rule.retain !== retain) return false
  return action === 'subscribe' ? coversFilter(rule, topic, parts, p) : matchesTopic(rule, topic, parts, p)
}
