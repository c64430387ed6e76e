/** Topic name and topic filter rules (MQTT 3.1.1 §4.7, MQTT 5 §4.7). */

/** Returns why a PUBLISH topic name is invalid, or undefined when it is valid. */
export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'the topic is empty'
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i)
    if (c === 0x2b || c === 0x23) return `the topic "${topic}" contains a wildcard (+ or #), which only subscriptions may use`
    if (c === 0) return 'the topic contains a NUL character'
  }
  return undefined
}

/** Whether `topic` is reserved for the server (starts with "$"); see reservedTopicProblem. */
export function isReservedTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 0x24 /* $ */
}

/**
 * Returns why a client may not publish to `topic` on its own: topics starting with "$" are
 * the server's (MQTT 5 §4.7.2: $SYS/… for its statistics, $CONTROL/… for its control
 * plane), so by default a client may neither publish there nor make its Will go there.
 * Undefined for every other topic (one character compare).
 */
export function reservedTopicProblem(topic: string): string | undefined {
  if (!isReservedTopic(topic)) return undefined
  const slash = topic.indexOf('/')
  const prefix = slash === -1 ? topic : topic.slice(0, slash)
  return `topics starting with "$" (here ${prefix}) are reserved for the server; an authorizer may grant them (Auth.canPublishReserved), or start the broker with --allow-reserved-topics`
}

/**
 * Returns why a topic name or filter exceeds the broker's limits: more than `maxLength`
 * UTF-8 bytes or more than `maxLevels` levels. Undefined when within them.
 */
export function topicLimitProblem(topic: string, maxLength: number, maxLevels: number): string | undefined {
  // A UTF-16 unit is at most 3 UTF-8 bytes: only long topics need the exact count.
  if (topic.length * 3 > maxLength) {
    const bytes = Buffer.byteLength(topic)
    if (bytes > maxLength) return `"${topic.slice(0, 40)}…" is ${bytes} bytes long; this broker allows at most ${maxLength}`
  }
  let levels = 1
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 0x2f) levels++
  if (levels > maxLevels) return `"${topic.slice(0, 40)}${topic.length > 40 ? '…' : ''}" has ${levels} levels; this broker allows at most ${maxLevels}`
  return undefined
}

/** A parsed shared subscription: `$share/GROUP/FILTER`, or EMQX's `$queue/FILTER` (group "$queue"). */
export interface SharedFilter {
  group: string
  filter: string
}

/**
 * Parses a shared subscription (MQTT 5 §4.8.2). Returns undefined for an ordinary
 * filter, the parts for a valid shared one, or a string saying what is wrong.
 */
export function parseSharedFilter(filter: string): SharedFilter | string | undefined {
  if (filter.startsWith('$queue/')) {
    const rest = filter.slice(7)
    if (rest.length === 0) return '"$queue/" must be followed by a topic filter'
    return {group: '$queue', filter: rest}
  }
  if (!filter.startsWith('$share/')) return filter === '$share' ? 'a shared subscription is $share/GROUP/FILTER' : undefined
  const slash = filter.indexOf('/', 7)
  if (slash === -1) return `"${filter}": a shared subscription is $share/GROUP/FILTER`
  const group = filter.slice(7, slash)
  // MQTT-4.8.2-1/2: a ShareName of at least one character, without "/", "+" or "#".
  if (group.length === 0) return `"${filter}": the share name (GROUP in $share/GROUP/FILTER) is empty`
  if (group.includes('+') || group.includes('#')) return `"${filter}": the share name "${group}" must not contain + or #`
  const rest = filter.slice(slash + 1)
  if (rest.length === 0) return `"${filter}": $share/${group}/ must be followed by a topic filter`
  return {group, filter: rest}
}

/** Returns why a subscription filter is invalid, or undefined when it is valid. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'the topic filter is empty'
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]
    if (level.includes('\u0000')) return 'the topic filter contains a NUL character'
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `"${filter}": # must be a whole level and the last one`
    }
    if (level.includes('+') && level !== '+') return `"${filter}": + must be a whole level`
  }
  return undefined
}

/** Whether `filter` matches `topic`; $-topics are not matched by a leading wildcard. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */ && (filter[0] === '+' || filter[0] === '#')) return false
  let f = 0
  let t = 0
  const fl = filter.length
  const tl = topic.length
  while (f < fl) {
    const fc = filter.charCodeAt(f)
    if (fc === 0x23 /* # */) return true
    if (fc === 0x2b /* + */) {
      while (t < tl && topic.charCodeAt(t) !== 0x2f) t++
      f++
    } else {
      // compare literal level characters
      while (f < fl && t < tl && filter.charCodeAt(f) !== 0x2f && topic.charCodeAt(t) !== 0x2f) {
        if (filter.charCodeAt(f) !== topic.charCodeAt(t)) return false
        f++
        t++
      }
      if ((f < fl && filter.charCodeAt(f) !== 0x2f) || (t < tl && topic.charCodeAt(t) !== 0x2f)) return false
    }
    if (f === fl) return t === tl
    // filter at a '/'
    if (t === tl) {
      // "a/#" matches "a": the rest of the filter must be exactly "/#"
      return f + 2 === fl && filter.charCodeAt(f + 1) === 0x23
    }
    f++
    t++
  }
  return t === tl
}
