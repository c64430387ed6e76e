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
