/**
 * Authorization end to end on real sockets: a table of ACL cases over MQTT.js 3.1.1 and 5
 * (principal from a JWT, rules from a Mosquitto acl_file), identities that look like
 * wildcards, a Will to a denied topic, retained messages under a read deny, a reload that
 * cuts an existing subscription, $SYS readable only by rule, a token's own acl claim,
 * denyAction disconnect, and Debian's mosquitto_sub/mosquitto_pub against the same rules.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {SignJWT} from 'jose'
import type {JWTPayload} from 'jose'
import type {MqttClient} from 'mqtt'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {tempDir, tryConnect} from '../../helpers/auth.js'
import {connectMqttJs, delay, nextMessages, topicsWithin} from '../../helpers/mqttjs.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'
const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub'
const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub'

const ACL = `
# anonymous clients (the watcher): read everything but $SYS
topic read #

user alice
topic readwrite alice/#
topic deny alice/secret/#
topic read news/#

user pub
topic write users/#

pattern readwrite users/%u/#
pattern write devices/%c/status
pattern read $SYS/broker/uptime
`

function token(claims: JWTPayload = {}): Promise<string> {
  return new SignJWT({exp: Math.floor(Date.now() / 1000) + 600, ...claims}).setProtectedHeader({alg: 'HS256'}).sign(new TextEncoder().encode(SECRET))
}

async function login(url: string, username: string, protocolVersion: 4 | 5, clientId?: string, claims: JWTPayload = {}): Promise<MqttClient> {
  return connectMqttJs(url, {username, password: await token(claims), protocolVersion, ...(clientId === undefined ? {} : {clientId})})
}

/** The granted QoS (or failure code) of one SUBSCRIBE (MQTT.js fails the call on a code >= 0x80 and hands over the SUBACK). */
function subscribeCode(client: MqttClient, filter: string): Promise<number> {
  return new Promise((resolve, reject) => {
    client.subscribe(filter, {qos: 1}, (error, granted) => {
      const suback = (error as {packet?: {granted?: number[]}} | null | undefined)?.packet
      if (suback?.granted !== undefined) resolve(suback.granted[0])
      else if (error) reject(error)
      else resolve(granted![0].qos)
    })
  })
}

/** The PUBACK reason code of a QoS 1 publish (3.1.1: always 0). */
function publishCode(client: MqttClient, topic: string, payload = 'x', retain = false): Promise<number> {
  return new Promise((resolve) => {
    client.publish(topic, payload, {qos: 1, retain}, (error, packet) => {
      const code = (error as {code?: number} | undefined)?.code ?? (packet as {reasonCode?: number} | undefined)?.reasonCode ?? 0
      resolve(code)
    })
  })
}

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<{status: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({status, stdout, stderr})
    })
  })
}

describe('authz: ACL over real connections', function () {
  this.timeout(30_000)
  let dir: string
  let aclFile: string
  let tb: TestBroker
  let watcher: MqttClient
  const open: MqttClient[] = []

  before(async () => {
    dir = tempDir('mqttws-acl-')
    aclFile = join(dir, 'acl.conf')
    writeFileSync(aclFile, ACL)
    tb = await startBroker({
      auth: {allowAnonymous: true, authenticators: [{type: 'jwt', secret: SECRET, superuserClaim: 'admin'}]},
      authorization: {aclFile},
    })
    watcher = await connectMqttJs(tb.urls.mqtt, {clientId: 'watcher'})
    await watcher.subscribeAsync('#', {qos: 1})
  })

  afterEach(() => {
    for (const c of open.splice(0)) c.end(true)
  })

  after(async () => {
    watcher?.end(true)
    await tb?.close()
  })

  const table: Array<[string, 'pub' | 'sub', string, boolean]> = [
    ['alice', 'pub', 'alice/x', true],
    ['alice', 'sub', 'alice/#', true],
    ['alice', 'pub', 'alice/secret/x', false],
    ['alice', 'sub', 'alice/secret/#', false],
    ['alice', 'sub', 'news/#', true],
    ['alice', 'pub', 'news/x', false],
    ['alice', 'pub', 'users/alice/x', true],
    ['alice', 'pub', 'users/bob/x', false],
    ['alice', 'sub', '#', false],
    ['alice', 'sub', '$SYS/#', false],
    ['alice', 'sub', '$SYS/broker/uptime', true],
    ['pub', 'pub', 'users/bob/x', true],
    ['pub', 'sub', 'users/#', false],
    ['bob', 'pub', 'users/bob/x', true],
    ['bob', 'sub', 'users/bob/#', true],
    ['bob', 'pub', 'alice/x', false],
    ['bob', 'pub', 'devices/bob-dev/status', true],
    ['bob', 'pub', 'devices/other/status', false],
    // Identities that look like wildcards are only text (CVE-2017-7650).
    ['#', 'sub', 'users/#', false],
    ['#', 'pub', 'users/bob/x', false],
    ['+', 'sub', 'users/+/x', false],
  ]

  for (const protocolVersion of [5, 4] as const) {
    it(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: each rule of the table holds (SUBACK 0x87/0x80, PUBACK 0x87 or dropped)`, async () => {
      for (const [user, action, topic, allowed] of table) {
        const clientId = user === 'bob' ? 'bob-dev' : `${user === '#' || user === '+' ? 'wild' : user}-${protocolVersion}`
        const c = await login(tb.urls.mqtt, user, protocolVersion, clientId)
        open.push(c)
        const what = `${user} ${action} ${topic} (v${protocolVersion})`
        if (action === 'sub') {
          const code = await subscribeCode(c, topic)
          if (allowed) assert.equal(code, 1, what)
          else assert.equal(code, protocolVersion === 5 ? 0x87 : 0x80, what)
          continue
        }
        const seen = nextMessages(watcher, 1, 2000).then(
          (m) => m[0].topic,
          () => undefined,
        )
        const code = await publishCode(c, `${topic}`, `${what}`)
        if (allowed) {
          assert.ok(code < 0x80, `${what}: PUBACK ${code}`)
          assert.equal(await seen, topic, what)
        } else {
          assert.equal(code, protocolVersion === 5 ? 0x87 : 0, what)
          // The watcher reads everything: a refused message never reaches it.
          assert.equal(await seen, undefined, what)
        }
        c.end(true)
      }
    })
  }

  it('a Will to a topic the client may not publish is refused at CONNECT (0x87; 3.1.1: return code 5)', async () => {
    for (const protocolVersion of [5, 4] as const) {
      const o = await tryConnect(tb.urls.mqtt, {protocolVersion, username: 'alice', password: await token(), will: {topic: 'alice/secret/will', payload: Buffer.from('w'), qos: 0, retain: false}})
      assert.equal(o.code, protocolVersion === 5 ? 0x87 : 5)
      const ok = await tryConnect(tb.urls.mqtt, {protocolVersion, username: 'alice', password: await token(), will: {topic: 'alice/will', payload: Buffer.from('w'), qos: 0, retain: false}})
      assert.equal(ok.code, 0)
      ok.client!.end(true)
    }
  })

  it('retained messages under a read deny are not sent on subscribe, nor is live traffic there', async () => {
    const admin = await login(tb.urls.mqtt, 'root', 5, 'root', {admin: true})
    open.push(admin)
    await admin.publishAsync('alice/r/open', 'o', {qos: 1, retain: true})
    await admin.publishAsync('alice/secret/r', 's', {qos: 1, retain: true})
    const alice = await login(tb.urls.ws, 'alice', 5, 'alice-retained')
    open.push(alice)
    const got = topicsWithin(alice, 600)
    assert.equal(await subscribeCode(alice, 'alice/#'), 1)
    await admin.publishAsync('alice/secret/live', 'l', {qos: 1})
    await admin.publishAsync('alice/live', 'l', {qos: 1})
    assert.deepEqual((await got).sort(), ['alice/live', 'alice/r/open'])
    await admin.publishAsync('alice/r/open', '', {qos: 1, retain: true})
    await admin.publishAsync('alice/secret/r', '', {qos: 1, retain: true})
  })

  it('a reloaded ACL cuts what an existing subscription receives, and grants what it adds', async () => {
    const alice = await login(tb.urls.mqtt, 'alice', 5, 'alice-reload')
    open.push(alice)
    const admin = await login(tb.urls.mqtt, 'root', 5, 'root2', {admin: true})
    open.push(admin)
    assert.equal(await subscribeCode(alice, 'news/#'), 1)
    const before = topicsWithin(alice, 400)
    await admin.publishAsync('news/a', '1', {qos: 1})
    assert.deepEqual(await before, ['news/a'])
    writeFileSync(aclFile, ACL.replace('topic read news/#', 'topic read news/public/#'))
    try {
      await tb.broker.reloadAuth()
      const after = topicsWithin(alice, 400)
      await admin.publishAsync('news/a', '2', {qos: 1})
      await admin.publishAsync('news/public/b', '3', {qos: 1})
      assert.deepEqual(await after, ['news/public/b'])
    } finally {
      writeFileSync(aclFile, ACL)
      await tb.broker.reloadAuth()
    }
    assert.ok((tb.broker.describeAuth() as {authorization: {deliveryDenied: number}}).authorization.deliveryDenied >= 1)
  })

  it('a broken ACL file on reload keeps the rules in force and says why', async () => {
    writeFileSync(aclFile, 'user alice\ntopic readwrite a/#/b\n')
    try {
      const results = (await tb.broker.reloadAuth()) as Array<{id: string; ok: boolean; error?: string}>
      const authz = results.find((r) => r.id === 'authorization')!
      assert.equal(authz.ok, false)
      assert.match(authz.error!, /acl\.conf:2: "#" must be the last level/)
      const alice = await login(tb.urls.mqtt, 'alice', 5, 'alice-broken')
      open.push(alice)
      assert.equal(await publishCode(alice, 'alice/still'), 0)
    } finally {
      writeFileSync(aclFile, ACL)
      await tb.broker.reloadAuth()
    }
  })

  it("a token's acl claim comes first; superusers bypass every rule", async () => {
    const acl = [
      {permission: 'allow', action: 'publish', topic: 'claims/${clientid}'},
      {permission: 'deny', action: 'all', topic: 'alice/x'},
    ]
    const c = await login(tb.urls.mqtt, 'alice', 5, 'cl1', {acl})
    open.push(c)
    assert.equal(await publishCode(c, 'claims/cl1'), 0)
    assert.equal(await publishCode(c, 'claims/cl2'), 0x87)
    assert.equal(await publishCode(c, 'alice/x'), 0x87) // the claim's deny wins over the file's grant
    assert.ok((await publishCode(c, 'alice/y')) < 0x80) // the file still grants what the claim does not mention
    const root = await login(tb.urls.mqtt, 'root', 5, 'root3', {admin: true})
    open.push(root)
    assert.equal(await subscribeCode(root, '$SYS/#'), 1)
    assert.ok((await publishCode(root, 'anything/at/all')) < 0x80)
  })

  it("Debian's mosquitto_sub (3.1.1) gets 0x80 for a denied filter and mosquitto_pub's allowed message arrives", async function () {
    if (!existsSync(MOSQUITTO_SUB) || !existsSync(MOSQUITTO_PUB)) this.skip()
    const port = String(tb.ports.mqtt)
    const denied = await run(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '-u', 'alice', '-P', await token(), '-t', 'test/nosubscribe', '-d', '-W', '2'])
    assert.match(denied.stdout + denied.stderr, /SUBACK|denied/i)
    assert.match(denied.stdout + denied.stderr, /All subscription requests were denied|\b128\b/)
    const sub = run(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '-u', 'bob', '-i', 'bob-sub', '-P', await token(), '-t', 'users/bob/#', '-C', '1', '-W', '5'])
    await delay(500)
    const pub = await run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '-u', 'pub', '-P', await token(), '-t', 'users/bob/in', '-m', 'hello', '-q', '1'])
    assert.equal(pub.status, 0, pub.stderr)
    const out = await sub
    assert.equal(out.stdout.trim(), 'hello')
  })
})

describe('authz: denyAction disconnect, noMatch and the default', function () {
  this.timeout(30_000)

  it('denyAction disconnect ends the publisher with DISCONNECT 0x87', async () => {
    const tb = await startBroker({auth: {authenticators: [{type: 'jwt', secret: SECRET}]}, authorization: {acl: 'pattern readwrite own/%u/#\n', denyAction: 'disconnect'}})
    try {
      const c = await login(tb.urls.mqtt, 'alice', 5)
      const disconnected = new Promise<number>((resolve) => c.once('disconnect', (p) => resolve(p.reasonCode ?? -1)))
      c.publish('elsewhere', 'x', {qos: 0})
      assert.equal(await disconnected, 0x87)
      c.end(true)
    } finally {
      await tb.close()
    }
  })

  it('with an authenticator and no rule, noMatch is deny (EMQX 6); --acl-no-match allow lets authenticated clients do everything but $SYS', async () => {
    const tb = await startBroker({auth: {authenticators: [{type: 'jwt', secret: SECRET}]}})
    try {
      const c = await login(tb.urls.mqtt, 'alice', 5)
      assert.equal(await subscribeCode(c, 'a/b'), 0x87)
      assert.equal(await publishCode(c, 'a/b'), 0x87)
      c.end(true)
    } finally {
      await tb.close()
    }
    const open = await startBroker({auth: {authenticators: [{type: 'jwt', secret: SECRET}]}, authorization: {noMatch: 'allow'}})
    try {
      const c = await login(open.urls.mqtt, 'alice', 5)
      assert.equal(await subscribeCode(c, 'a/b'), 1)
      assert.equal(await subscribeCode(c, '$SYS/#'), 0x87)
      c.end(true)
    } finally {
      await open.close()
    }
  })

  it('without authenticators or rules nothing is checked (a dev box): $SYS too', async () => {
    const tb = await startBroker({})
    try {
      assert.equal(tb.broker.config.authorization, undefined)
      const c = await connectMqttJs(tb.urls.mqtt, {protocolVersion: 5})
      assert.equal(await subscribeCode(c, '$SYS/#'), 1)
      c.end(true)
    } finally {
      await tb.close()
    }
  })
})
