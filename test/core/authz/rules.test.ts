/**
 * Rule matching: topics, filters a rule must cover, identity placeholders that never act as
 * wildcards (CVE-2017-7650), "$" topics out of leading wildcards; Mosquitto acl_file parsing
 * and evaluation (denies first); EMQX ACL lists (first match, qos/retain, eq, legacy form).
 */
import assert from 'node:assert/strict'
import type {Principal} from '../../../src/core/broker/auth.js'
import {checkAclFile, parseAclFile} from '../../../src/core/authz/acl-file.js'
import {checkAclList, compileAclList} from '../../../src/core/authz/emqx-acl.js'
import type {Action} from '../../../src/core/authz/rule.js'
import {compileRule, ruleMatches} from '../../../src/core/authz/rule.js'

function who(username: string | undefined, clientId = 'c1'): Principal {
  return {clientId, username, superuser: false, attributes: undefined}
}

function matches(filter: string, action: Action, topic: string, p = who('alice'), placeholders: 'mosquitto' | 'emqx' | 'none' = 'mosquitto'): boolean {
  const rule = compileRule({permission: 'allow', publish: true, subscribe: true, topic: filter}, placeholders)
  return ruleMatches(rule, p, action, topic, topic.split('/'), 0, false)
}

describe('authz: rules', () => {
  it('matches topic names as MQTT filters do, "$" topics excepted from leading wildcards', () => {
    const cases: Array<[string, string, boolean]> = [
      ['a/b', 'a/b', true],
      ['a/b', 'a/c', false],
      ['a/+', 'a/b', true],
      ['a/+', 'a/b/c', false],
      ['a/#', 'a', true],
      ['a/#', 'a/b/c', true],
      ['#', 'x/y', true],
      ['#', '$SYS/broker/uptime', false],
      ['+/broker/uptime', '$SYS/broker/uptime', false],
      ['$SYS/#', '$SYS/broker/uptime', true],
      ['a//b', 'a//b', true],
      ['a/+/b', 'a//b', true],
    ]
    for (const [filter, topic, expected] of cases) assert.equal(matches(filter, 'publish', topic), expected, `${filter} vs ${topic}`)
  })

  it('a subscription is allowed only where the rule covers all of it', () => {
    const cases: Array<[string, string, boolean]> = [
      ['a/+', 'a/b', true],
      ['a/+', 'a/+', true],
      ['a/+', 'a/#', false],
      ['a/#', 'a/+/c', true],
      ['a/#', 'a/#', true],
      ['a/#', 'a', true],
      ['a/b', 'a/+', false],
      ['#', '#', true],
      ['#', '$SYS/#', false],
      ['$SYS/#', '$SYS/broker/+', true],
    ]
    for (const [rule, filter, expected] of cases) assert.equal(matches(rule, 'subscribe', filter), expected, `${rule} covers ${filter}`)
  })

  it('%u and %c are whole levels compared as text: "#", "+" or "/" in an identity matches nothing (CVE-2017-7650)', () => {
    assert.equal(matches('users/%u/#', 'publish', 'users/alice/x', who('alice')), true)
    assert.equal(matches('users/%u/#', 'publish', 'users/bob/x', who('alice')), false)
    assert.equal(matches('devices/%c', 'publish', 'devices/c1', who('alice', 'c1')), true)
    // A user named "#" or "+" must not be granted every user's topics.
    assert.equal(matches('users/%u/#', 'publish', 'users/alice/x', who('#')), false)
    assert.equal(matches('users/%u/#', 'subscribe', 'users/#', who('#')), false)
    assert.equal(matches('users/%u/#', 'subscribe', 'users/+/x', who('+')), false)
    assert.equal(matches('devices/%c', 'subscribe', 'devices/+', who('alice', '+')), false)
    // A client id "a/+" does not span levels.
    assert.equal(matches('devices/%c', 'publish', 'devices/a/b', who('alice', 'a/+')), false)
    assert.equal(matches('devices/%c', 'subscribe', 'devices/a/+', who('alice', 'a/+')), false)
    // No user name: %u matches nothing.
    assert.equal(matches('users/%u/#', 'publish', 'users//x', who(undefined)), false)
    // Part of a level is not a placeholder (Mosquitto: whole levels only).
    assert.equal(matches('x/%u-data', 'publish', 'x/alice-data', who('alice')), false)
    assert.equal(matches('x/%u-data', 'publish', 'x/%u-data', who('alice')), true)
    // EMQX's placeholders, in EMQX-format rules only.
    assert.equal(matches('t/${clientid}', 'publish', 't/c1', who('alice', 'c1'), 'emqx'), true)
    assert.equal(matches('t/${clientid}', 'publish', 't/c1', who('alice', 'c1'), 'mosquitto'), false)
  })
})

describe('authz: Mosquitto acl_file', () => {
  const text = `
# comments and blank lines are ignored
topic read $SYS/broker/uptime
topic read public/#

user alice
topic readwrite alice/#
topic deny alice/secret/#
topic write shared/in

user pub
topic write users/#

pattern readwrite users/%u/#
pattern write devices/%c/status
pattern deny users/%u/private/#
`
  const rules = parseAclFile(text, 'acl.conf')
  const check = (p: Principal, action: Action, topic: string): string | undefined => checkAclFile(rules, p, action, topic, topic.split('/'), 0, false)

  it('gives anonymous clients the rules before the first user line, and each user its own', () => {
    assert.equal(rules.ruleCount, 9)
    assert.equal(check(who(undefined), 'subscribe', 'public/#'), 'allow')
    assert.equal(check(who(undefined), 'publish', 'public/x'), undefined)
    assert.equal(check(who(undefined), 'read', '$SYS/broker/uptime'), 'allow')
    assert.equal(check(who('alice'), 'read', '$SYS/broker/uptime'), undefined)
    assert.equal(check(who('alice'), 'subscribe', 'public/#'), undefined)
    assert.equal(check(who('alice'), 'publish', 'alice/x'), 'allow')
    assert.equal(check(who('alice'), 'subscribe', 'shared/in'), undefined)
    assert.equal(check(who('alice'), 'publish', 'shared/in'), 'allow')
    assert.equal(check(who('pub'), 'publish', 'users/x/y'), 'allow')
    assert.equal(check(who('pub'), 'subscribe', 'users/#'), undefined)
  })

  it('looks at deny rules first, the own block and patterns alike', () => {
    assert.equal(check(who('alice'), 'publish', 'alice/secret/x'), 'deny')
    assert.equal(check(who('alice'), 'read', 'alice/secret/x'), 'deny')
    // The grant alice/# covers a subscription to alice/#; what it delivers under alice/secret/ is refused per message.
    assert.equal(check(who('alice'), 'subscribe', 'alice/#'), 'allow')
    assert.equal(check(who('alice'), 'subscribe', 'alice/secret/#'), 'deny')
    assert.equal(check(who('bob'), 'publish', 'users/bob/private/x'), 'deny')
    assert.equal(check(who('bob'), 'publish', 'users/bob/x'), 'allow')
    assert.equal(check(who('bob'), 'publish', 'users/alice/x'), undefined)
    assert.equal(check(who('bob', 'dev7'), 'publish', 'devices/dev7/status'), 'allow')
    assert.equal(check(who('bob', 'dev7'), 'read', 'devices/dev7/status'), undefined)
  })

  it('refuses a broken file with the file, the line and what to write', () => {
    assert.throws(() => parseAclFile('user alice\ntopic readwrite a/#/b\n', 'acl.conf'), /acl\.conf:2: "#" must be the last level/)
    assert.throws(() => parseAclFile('\nallow alice\n', 'acl.conf'), /acl\.conf:2: unknown line "allow alice": expected "user NAME"/)
    assert.throws(() => parseAclFile('user\n', 'acl.conf'), /acl\.conf:1: "user" needs a user name/)
    assert.throws(() => parseAclFile('topic read\n', 'acl.conf'), /needs a topic filter|acl\.conf:1/)
  })

  it('reads "topic FILTER" without an access as readwrite, and a filter with spaces', () => {
    const r = parseAclFile('topic a b/c\n', 'x')
    assert.equal(checkAclFile(r, who(undefined), 'publish', 'a b/c', ['a b', 'c'], 0, false), 'allow')
  })
})

describe('authz: EMQX ACL lists', () => {
  it('first match decides; qos, retain and "eq" narrow a rule', () => {
    const rules = compileAclList(
      [
        {permission: 'deny', action: 'publish', topic: 't/x', retain: true},
        {permission: 'allow', action: 'publish', topic: 't/#', qos: [0, 1]},
        {permission: 'allow', action: 'subscribe', topic: 'eq t/#'},
        {permission: 'allow', action: 'all', topic: 'c/${clientid}/#'},
        {permission: 'deny', action: 'all', topic: '#'},
      ],
      'acl',
    )
    const p = who('alice', 'c1')
    const check = (action: Action, topic: string, qos = 0, retain = false): string | undefined => checkAclList(rules, p, action, topic, topic.split('/'), qos, retain)
    assert.equal(check('publish', 't/x', 0, true), 'deny')
    assert.equal(check('publish', 't/x', 1, false), 'allow')
    assert.equal(check('publish', 't/x', 2, false), 'deny')
    assert.equal(check('subscribe', 't/#'), 'allow')
    assert.equal(check('subscribe', 't/+'), 'deny')
    assert.equal(check('publish', 'c/c1/a'), 'allow')
    assert.equal(check('publish', 'c/c2/a'), 'deny')
  })

  it('reads the older {pub, sub, all} form as grants', () => {
    const rules = compileAclList({pub: ['up/${username}'], sub: ['down/#']}, 'acl')
    const p = who('alice')
    assert.equal(checkAclList(rules, p, 'publish', 'up/alice', ['up', 'alice'], 0, false), 'allow')
    assert.equal(checkAclList(rules, p, 'subscribe', 'up/alice', ['up', 'alice'], 0, false), undefined)
    assert.equal(checkAclList(rules, p, 'read', 'down/x', ['down', 'x'], 0, false), 'allow')
  })

  it('says which entry is wrong', () => {
    assert.throws(() => compileAclList([{permission: 'maybe', topic: 'a'}], 'acl'), /acl\[0\]\.permission: expected "allow" or "deny"/)
    assert.throws(() => compileAclList([{permission: 'allow', action: 'read', topic: 'a'}], 'acl'), /acl\[0\]\.action/)
    assert.throws(() => compileAclList([{permission: 'allow', topic: 'a', qos: 3}], 'acl'), /acl\[0\]\.qos/)
    assert.throws(() => compileAclList('a/#', 'acl'), /expected a list of rules/)
  })
})
