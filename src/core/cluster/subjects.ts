/**
 * MQTT topics and filters as NATS subjects, without losing any legal MQTT topic.
 *
 * A NATS subject is tokens joined by "."; a token is never empty, holds no whitespace,
 * and "*" and ">" are wildcards when they are a whole token. An MQTT topic level may be
 * empty and hold any character but NUL, so each level becomes one token, escaped:
 *
 * - an empty level is the token "%" (no escaped level is a lone "%": "%" itself is escaped);
 * - ".", "*", ">", "%", ASCII controls, space and DEL become "%XX" (the hex of the byte);
 * - everything else (letters, "$", unicode) stays as it is, so subjects stay readable.
 *
 * The subject is `PREFIX.CLASS.m.LEVELS` for ordinary topics and `PREFIX.CLASS.s.LEVELS`
 * for topics starting with "$" ($SYS/…): an MQTT filter starting with a wildcard never
 * matches a "$" topic (MQTT-4.7.2-1), and "#" becomes `PREFIX.*.m.>`, which no "$" topic
 * is under. CLASS is "c" for messages on core NATS (QoS 0) and "q" for those a JetStream
 * stream captures (QoS 1/2); a filter's subjects take both ("*"), so one subscription
 * serves every QoS. A filter becomes one subject, or two for a trailing "#": MQTT's `a/#`
 * also matches `a`, NATS's `a.>` does not, so it is `a` and `a.>`.
 *
 * A subject longer than maxSubjectBytes (NATS servers refuse a protocol line over 4096
 * bytes by default) is not used: such topics travel on `PREFIX.l` with the topic in the
 * message, and every node listens there (see nats-bus.ts).
 */

import {createHash} from 'node:crypto'

/** Longest subject used (bytes): NATS's default max_control_line is 4096 for the whole line. */
export const MAX_SUBJECT_BYTES = 3800

const HEX = '0123456789ABCDEF'

/** Whether a UTF-16 unit must be escaped in a token. */
function needsEscape(c: number): boolean {
  return c <= 0x20 || c === 0x7f || c === 0x2e /* . */ || c === 0x2a /* * */ || c === 0x3e /* > */ || c === 0x25 /* % */
}

/** One MQTT level as one NATS token. */
export function escapeLevel(level: string): string {
  if (level.length === 0) return '%'
  let i = 0
  while (i < level.length && !needsEscape(level.charCodeAt(i))) i++
  if (i === level.length) return level
  let out = level.slice(0, i)
  for (; i < level.length; i++) {
    const c = level.charCodeAt(i)
    out += needsEscape(c) ? '%' + HEX[c >> 4] + HEX[c & 15] : level[i]
  }
  return out
}

/** One NATS token back to the MQTT level. */
export function unescapeLevel(token: string): string {
  if (token === '%') return ''
  if (!token.includes('%')) return token
  let out = ''
  for (let i = 0; i < token.length; i++) {
    const ch = token[i]
    if (ch === '%' && i + 2 < token.length) {
      out += String.fromCharCode(parseInt(token.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      out += ch
    }
  }
  return out
}

/** Maps topics and filters under one subject prefix (e.g. "mqttws"). */
export class SubjectMap {
  readonly prefix: string
  /** `PREFIX.l`: topics whose subject would be too long. */
  readonly long: string
  /** `PREFIX.q.>`: what a JetStream stream captures (QoS 1/2). */
  readonly durable: string
  private readonly core: string
  private readonly stored: string
  private readonly any: string
  /** `PREFIX.r.k.`: retained messages (retainedSubject). */
  private readonly retained: string
  /** What the retained stream captures. */
  readonly retainedAll: string
  private readonly maxBytes: number
  private readonly topics = new Map<string, string>()

  constructor(prefix: string, maxBytes = MAX_SUBJECT_BYTES) {
    this.prefix = prefix
    this.core = `${prefix}.c.`
    this.stored = `${prefix}.q.`
    this.any = `${prefix}.*.`
    this.durable = `${prefix}.q.>`
    this.long = `${prefix}.l`
    this.retained = `${prefix}.r.k.`
    this.retainedAll = `${prefix}.r.k.>`
    this.maxBytes = maxBytes
  }

  /** The subject of a topic (durable: the JetStream class); `long` when it would be longer than the limit. */
  topicSubject(topic: string, durable = false): string {
    return this.subjectOf(durable ? this.stored : this.core, topic) ?? this.long
  }

  /**
   * `PREFIX.r.k.m.LEVELS`: a topic's retained message in the retained stream (one per
   * subject), which no filter's subjects match (the third token is not m or s).
   * Undefined when it would be too long.
   */
  retainedSubject(topic: string): string | undefined {
    return this.subjectOf(this.retained, topic)
  }

  /** The topic of a subject made by retainedSubject. */
  retainedTopic(subject: string): string | undefined {
    return subject.startsWith(this.retained) ? this.subjectTopic(this.core + subject.slice(this.retained.length)) : undefined
  }

  private subjectOf(base: string, topic: string): string | undefined {
    let s = base + (topic.charCodeAt(0) === 0x24 /* $ */ ? 's.' : 'm.')
    let start = 0
    for (;;) {
      const slash = topic.indexOf('/', start)
      if (slash === -1) {
        s += escapeLevel(topic.slice(start))
        break
      }
      s += escapeLevel(topic.slice(start, slash)) + '.'
      start = slash + 1
    }
    return s.length * 3 > this.maxBytes && Buffer.byteLength(s) > this.maxBytes ? undefined : s
  }

  /** subjectTopic, remembered for 10,000 subjects (the receiving path: one lookup per message). */
  cachedTopic(subject: string): string | undefined {
    let topic = this.topics.get(subject)
    if (topic === undefined) {
      topic = this.subjectTopic(subject)
      if (topic === undefined) return undefined
      if (this.topics.size >= 10_000) this.topics.clear()
      this.topics.set(subject, topic)
    }
    return topic
  }

  /** The topic of a subject made by topicSubject (not `long`); undefined for a subject of another shape. */
  subjectTopic(subject: string): string | undefined {
    if (!(subject.startsWith(this.core) || subject.startsWith(this.stored))) return undefined
    const kind = subject.slice(this.core.length, this.core.length + 2)
    if (kind !== 'm.' && kind !== 's.') return undefined
    const tokens = subject.slice(this.core.length + 2).split('.')
    for (let i = 0; i < tokens.length; i++) tokens[i] = unescapeLevel(tokens[i])
    return tokens.join('/')
  }

  /**
   * The subjects a filter's messages arrive on: one, or two for a trailing "#"; none when
   * they would be too long (every topic it matches is then too long as well, so it arrives on `long`).
   */
  filterSubjects(filter: string): string[] {
    const levels = filter.split('/')
    const base = this.any + (filter.charCodeAt(0) === 0x24 /* $ */ ? 's.' : 'm.')
    const tokens: string[] = []
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i]
      tokens.push(l === '+' ? '*' : l === '#' ? '>' : escapeLevel(l))
    }
    const out: string[] = []
    if (tokens[tokens.length - 1] === '>' && tokens.length > 1) out.push(base + tokens.slice(0, -1).join('.'))
    out.push(base + tokens.join('.'))
    return out.filter((s) => Buffer.byteLength(s) <= this.maxBytes)
  }
}

/** A NATS queue group name for a shared group key ($share/GROUP/FILTER): printable, no spaces or dots, any length of key. */
export function queueName(key: string): string {
  return `g_${createHash('sha256').update(key).digest('base64url')}`
}
