import assert from 'node:assert/strict'
import {Router} from '../../../src/core/broker/router.js'
import {MAX_SUBJECT_BYTES, SubjectMap, escapeLevel, unescapeLevel} from '../../../src/core/cluster/subjects.js'
import {prng, seedFromEnv} from '../../helpers/random.js'

const map = new SubjectMap('mqttws')

/** NATS's matching rules: "*" one token, ">" one or more tokens at the end, literals equal. */
function natsMatches(subject: string, pattern: string): boolean {
  const s = subject.split('.')
  const p = pattern.split('.')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i
    if (i >= s.length) return false
    if (p[i] !== '*' && p[i] !== s[i]) return false
  }
  return s.length === p.length
}

/** What NATS requires of a subject a client publishes to. */
function assertValidSubject(subject: string): void {
  const tokens = subject.split('.')
  for (const t of tokens) {
    assert.ok(t.length > 0, `empty token in ${JSON.stringify(subject)}`)
    assert.doesNotMatch(t, /[\s*>]/, `whitespace or wildcard in token ${JSON.stringify(t)} of ${JSON.stringify(subject)}`)
  }
}

function mqttMatches(topic: string, filter: string): boolean {
  const r = new Router<string, number>()
  r.add(filter, 'x', 0)
  let hit = false
  r.match(topic, () => (hit = true), undefined)
  return hit
}

const TOPICS = [
  'a',
  'a/b',
  'a/b/c',
  '/',
  '//',
  'a//b',
  '/a',
  'a/',
  'a.b',
  '.',
  'a/./b',
  'a b',
  ' ',
  'tab\there',
  'line\nbreak',
  '*',
  '>',
  'a*/b>',
  '%',
  '%41',
  '%%',
  'caf\u00e9/\u65e5\u672c/\u{1F600}',
  '$SYS/broker/uptime',
  '$',
  '$share',
  'a$b',
  'mqttws.*.m.x',
  '_',
  '\u007f/\u0001',
]

describe('cluster: MQTT topic ↔ NATS subject', () => {
  it('escapes a level into one token and back', () => {
    assert.equal(escapeLevel(''), '%')
    assert.equal(escapeLevel('abc'), 'abc')
    assert.equal(escapeLevel('a.b'), 'a%2Eb')
    assert.equal(escapeLevel('a b'), 'a%20b')
    assert.equal(escapeLevel('*'), '%2A')
    assert.equal(escapeLevel('>'), '%3E')
    assert.equal(escapeLevel('%'), '%25')
    assert.equal(escapeLevel('$SYS'), '$SYS')
    for (const l of ['', 'abc', 'a.b', '%', '%%', '%2E', ' ', '*', '>', '\u65e5', '\u{1F600}']) assert.equal(unescapeLevel(escapeLevel(l)), l)
  })

  it('keeps every legal topic: valid subject, one token per level, and back to the same topic', () => {
    for (const topic of TOPICS) {
      const subject = map.topicSubject(topic)
      assertValidSubject(subject)
      assert.equal(subject.split('.').length, 3 + topic.split('/').length, topic)
      assert.equal(map.subjectTopic(map.topicSubject(topic, true)), topic)
      assert.equal(map.subjectTopic(subject), topic)
    }
  })

  it('puts "$" topics beside the others, so that # never reaches them', () => {
    assert.equal(map.topicSubject('$SYS/broker'), 'mqttws.c.s.$SYS.broker')
    assert.equal(map.topicSubject('a/b'), 'mqttws.c.m.a.b')
    assert.deepEqual(map.filterSubjects('#'), ['mqttws.*.m.>'])
    assert.deepEqual(map.filterSubjects('+/broker'), ['mqttws.*.m.*.broker'])
    assert.deepEqual(map.filterSubjects('$SYS/#'), ['mqttws.*.s.$SYS', 'mqttws.*.s.$SYS.>'])
    assert.ok(!natsMatches(map.topicSubject('$SYS/broker'), 'mqttws.*.m.>'))
  })

  it('maps + to *, and # to > plus its parent level', () => {
    assert.deepEqual(map.filterSubjects('a/+/c'), ['mqttws.*.m.a.*.c'])
    assert.deepEqual(map.filterSubjects('a/#'), ['mqttws.*.m.a', 'mqttws.*.m.a.>'])
    assert.deepEqual(map.filterSubjects('+/#'), ['mqttws.*.m.*', 'mqttws.*.m.*.>'])
    assert.deepEqual(map.filterSubjects('a.b/ /#'), ['mqttws.*.m.a%2Eb.%20', 'mqttws.*.m.a%2Eb.%20.>'])
    assert.deepEqual(map.filterSubjects('/+'), ['mqttws.*.m.%.*'])
  })

  it('NATS matching of the mapped subjects is MQTT matching (listed topics and filters)', () => {
    const filters = ['#', '+', 'a/#', 'a/+', '+/b', '/#', '+/+', '$SYS/#', '$SYS/+/uptime', '+/#', 'a.b', '*', '>', '%', '$', 'a//b', 'a/+/b', 'caf\u00e9/#', ' ', '$share']
    for (const topic of TOPICS) {
      const subject = map.topicSubject(topic)
      for (const filter of filters) {
        const nats = map.filterSubjects(filter).some((p) => natsMatches(subject, p))
        assert.equal(nats, mqttMatches(topic, filter), `topic ${JSON.stringify(topic)} filter ${JSON.stringify(filter)}`)
        // The JetStream class (QoS 1/2) reaches the same subscriptions.
        assert.equal(map.filterSubjects(filter).some((p) => natsMatches(map.topicSubject(topic, true), p)), nats)
      }
    }
  })

  it('NATS matching is MQTT matching (random topics and filters)', function () {
    const seed = seedFromEnv('SUBJECTS_SEED')
    this.test!.title += ` (SUBJECTS_SEED=${seed})`
    const rnd = prng(seed)
    const alphabet = ['a', 'b', '.', ' ', '*', '>', '%', '$', '\u00e9', '']
    const level = (): string => {
      let s = ''
      const n = Math.floor(rnd() * 3)
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)]
      return s
    }
    for (let k = 0; k < 3000; k++) {
      const levels = 1 + Math.floor(rnd() * 4)
      const topicLevels: string[] = []
      for (let i = 0; i < levels; i++) topicLevels.push(level())
      const topic = topicLevels.join('/')
      const filterLevels: string[] = []
      const flen = 1 + Math.floor(rnd() * 4)
      for (let i = 0; i < flen; i++) {
        const r = rnd()
        // Often reuse the topic's own level, so that matches happen.
        filterLevels.push(r < 0.25 ? '+' : r < 0.7 && i < topicLevels.length ? topicLevels[i] : level())
      }
      if (rnd() < 0.3) filterLevels.push('#')
      const filter = filterLevels.join('/')
      const subject = map.topicSubject(topic)
      assertValidSubject(subject)
      assert.equal(map.subjectTopic(subject), topic)
      const nats = map.filterSubjects(filter).some((p) => natsMatches(subject, p))
      assert.equal(nats, mqttMatches(topic, filter), `topic ${JSON.stringify(topic)} filter ${JSON.stringify(filter)}`)
    }
  })

  it('gives retained messages subjects of their own that no filter matches', () => {
    const filters = ['#', '+/#', '+/+/+/+', 'a/#', '$SYS/#']
    for (const topic of [...TOPICS, 'a/b/c/d']) {
      const subject = map.retainedSubject(topic)!
      assertValidSubject(subject)
      assert.ok(natsMatches(subject, map.retainedAll))
      assert.equal(map.retainedTopic(subject), topic)
      for (const f of filters) for (const p of map.filterSubjects(f)) assert.ok(!natsMatches(subject, p), `${subject} matched ${p}`)
    }
    assert.equal(map.retainedSubject('x'.repeat(MAX_SUBJECT_BYTES)), undefined)
  })

  it('gives two topics two subjects', () => {
    const seen = new Map<string, string>()
    for (const t of [...TOPICS, 'a%2Eb', 'a.b', '%2E', '.', '%', '', 'a/%', 'a/']) {
      if (t === '') continue
      const s = map.topicSubject(t)
      assert.ok(!seen.has(s) || seen.get(s) === t, `${JSON.stringify(t)} and ${JSON.stringify(seen.get(s))} share ${s}`)
      seen.set(s, t)
    }
  })

  it('sends a topic whose subject would be too long on the long subject, and subscribes no too-long filter', () => {
    const topic = 'x'.repeat(MAX_SUBJECT_BYTES)
    assert.equal(map.topicSubject(topic), 'mqttws.l')
    assert.equal(map.topicSubject('.'.repeat(1300)), 'mqttws.l') // 3 bytes a character once escaped
    assert.notEqual(map.topicSubject('.'.repeat(1200)), 'mqttws.l')
    assert.deepEqual(map.filterSubjects(`${topic}/#`), [])
    assert.equal(map.subjectTopic('mqttws.l'), undefined)
  })
})
