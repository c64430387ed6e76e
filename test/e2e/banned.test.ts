/** `mqttws banned` (list, add, remove) and the admin API's /api/v1/banned, against `mqttws serve` (the built binary). */
import assert from 'node:assert/strict'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {MqttClient} from 'mqtt'
import {runBin, startServe, useAdminServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'
import {connectMqttJs, nextMessages} from '../helpers/mqttjs.js'

async function refusal(url: string, clientId: string, protocolVersion: 4 | 5): Promise<number> {
  try {
    const c = await connectMqttJs(url, {clientId, protocolVersion})
    await new Promise<void>((resolve) => c.end(true, {}, () => resolve()))
    return 0
  } catch (error) {
    return (error as {code?: number}).code ?? -1
  }
}

describe('mqttws banned (e2e)', function () {
  const fixture = useAdminServe('banned', ['--trusted-proxy', '10.0.0.0/8', '--message-rate', '1000'], 'bans:\n  - username: eve\n    reason: from the file\nguard:\n  flapping:\n    enabled: false\n')
  const clients: MqttClient[] = []

  after(() => {
    for (const c of clients.splice(0)) c.end(true)
  })

  const run = (args: string[]) => runBin(['banned', ...args, '--admin', fixture.admin.url], {env: fixture.env})

  it('lists the bans of the config file (table and --json)', async () => {
    const text = await run([])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /kind\s+value\s+regex\s+until\s+source\s+reason/)
    assert.match(text.stdout, /username\s+eve\s+removed by hand\s+config\s+from the file/)
    const json = await run(['--json'])
    assert.equal(json.code, 0, json.stderr)
    assert.deepEqual(JSON.parse(json.stdout).banned.map((b: {kind: string; value: string; source: string}) => [b.kind, b.value, b.source]), [['username', 'eve', 'config']])
  })

  it('adds a ban that disconnects the client at once and refuses it afterwards; a bystander carries on; remove lifts it', async () => {
    const bystander = await connectMqttJs(fixture.mqttUrl, {clientId: 'bystander', protocolVersion: 4})
    const victim = await connectMqttJs(fixture.mqttUrl, {clientId: 'cli-victim', protocolVersion: 5})
    clients.push(bystander, victim)
    await bystander.subscribeAsync('t')
    const kicked = new Promise<number | undefined>((resolve) => victim.once('disconnect', (p) => resolve(p.reasonCode)))
    const add = await run(['add', '--client-id', 'cli-victim', '--duration', '1h', '--reason', 'spam'])
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stdout, /^banned clientId cli-victim until \d{4}-\d\d-\d\dT[\d:.]+Z; 1 connected client disconnected$/m)
    assert.equal(await kicked, 0x98)
    assert.equal(await refusal(fixture.mqttUrl, 'cli-victim', 5), 0x8a)
    assert.equal(await refusal(fixture.mqttUrl, 'cli-victim', 4), 5)

    const listed = JSON.parse((await run(['--json'])).stdout).banned.find((b: {value: string}) => b.value === 'cli-victim')
    assert.equal(listed.source, 'api')
    assert.equal(listed.reason, 'spam')
    assert.ok(Date.parse(listed.until) > Date.now() + 3_500_000)

    const got = nextMessages(bystander, 1)
    bystander.publish('t', 'still here')
    assert.equal((await got)[0].payload.toString(), 'still here')

    const remove = await run(['remove', 'clientId', 'cli-victim'])
    assert.equal(remove.code, 0, remove.stderr)
    assert.match(remove.stdout, /lifted the ban on clientId cli-victim/)
    assert.equal(await refusal(fixture.mqttUrl, 'cli-victim', 5), 0)
  })

  it('bans networks and patterns; a network is removed by its text, slash included', async () => {
    const net = await run(['add', '--address', '10.0.0.0/8', '--json'])
    assert.equal(net.code, 0, net.stderr)
    assert.equal(JSON.parse(net.stdout).ban.value, '10.0.0.0/8')
    const pattern = await run(['add', '--client-id', 'bot-[0-9]+', '--regex'])
    assert.equal(pattern.code, 0, pattern.stderr)
    assert.equal(await refusal(fixture.mqttUrl, 'bot-42', 5), 0x8a)
    assert.equal(await refusal(fixture.mqttUrl, 'robot-42', 5), 0)
    assert.equal((await run(['remove', 'address', '10.0.0.0/8'])).code, 0)
    assert.equal((await run(['remove', 'clientId', 'bot-[0-9]+'])).code, 0)
    assert.deepEqual(JSON.parse((await run(['--json'])).stdout).banned.map((b: {value: string}) => b.value), ['eve'])
  })

  it('says what is wrong, with exit 2', async () => {
    const bad = await run(['add', '--address', 'nonsense'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /"nonsense" is not an IP address or network: write it as 192\.0\.2\.7, 10\.0\.0\.0\/8/)
    const regex = await run(['add', '--client-id', '(', '--regex'])
    assert.equal(regex.code, 2)
    assert.match(regex.stderr, /not a valid regular expression/)
    const none = await run(['remove', 'clientId', 'nobody'])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /no clientId ban "nobody"/)
    const duration = await run(['add', '--client-id', 'x', '--duration', 'soon'])
    assert.equal(duration.code, 2)
    assert.match(duration.stderr, /--duration "soon" is not a duration/)
    const which = await run(['add'])
    assert.equal(which.code, 2)
  })

  it('the admin API: token required, 400 with the reason for a bad ban, counters per listener', async () => {
    const noToken = await fetch(`${fixture.admin.url}/api/v1/banned`)
    assert.equal(noToken.status, 401)
    const headers = {Authorization: `Bearer ${fixture.admin.token}`, 'Content-Type': 'application/json'}
    const bad = await fetch(`${fixture.admin.url}/api/v1/banned`, {method: 'POST', headers, body: JSON.stringify({clientId: 'a', username: 'b'})})
    assert.equal(bad.status, 400)
    assert.match(((await bad.json()) as {error: {message: string}}).error.message, /exactly one of clientId, username or address/)
    const added = await fetch(`${fixture.admin.url}/api/v1/banned`, {method: 'POST', headers, body: JSON.stringify({clientId: 'api-ban', until: '2099-01-01T00:00:00Z'})})
    assert.equal(added.status, 201)
    assert.equal(((await added.json()) as {ban: {until: string}}).ban.until, '2099-01-01T00:00:00.000Z')
    const gone = await fetch(`${fixture.admin.url}/api/v1/banned/clientId/api-ban`, {method: 'DELETE', headers})
    assert.equal(gone.status, 200)
    const again = await fetch(`${fixture.admin.url}/api/v1/banned/clientId/api-ban`, {method: 'DELETE', headers})
    assert.equal(again.status, 404)
    const listeners = await runBin(['listeners', '--json', '--admin', fixture.admin.url], {env: fixture.env})
    assert.equal(listeners.code, 0, listeners.stderr)
    const row = JSON.parse(listeners.stdout).listeners[0]
    assert.ok(row.connections.rejected.banned >= 3, JSON.stringify(row.connections.rejected))
    assert.deepEqual(Object.keys(row.rateLimited), ['dropped', 'refused'])
    const metrics = await (await fetch(`${fixture.admin.url}/metrics`, {headers})).text()
    assert.match(metrics, /mqttws_rejected_total\{listener="mqtt:0",transport="tcp",reason="banned"\} [1-9]/)
    assert.match(metrics, /mqttws_bans 1$/m)
  })
})

describe('mqttws banned with --data-dir (e2e): bans added at run time outlive a restart', function () {
  let dir: string
  let serve: ServeProcess | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqttws-banned-data-'))
  })

  after(async () => {
    await serve?.stop()
    await rm(dir, {recursive: true, force: true})
  })

  async function start(): Promise<{admin: string; env: NodeJS.ProcessEnv; mqtt: string}> {
    const env = {MQTTWS_ADMIN_TOKEN_FILE: join(dir, 'token'), MQTTWS_ADMIN_TOKEN: ''}
    serve = await startServe(['--data-dir', join(dir, 'data'), '--listen', 'mqtt://127.0.0.1:0', '--admin', 'http://127.0.0.1:0', '--sys-interval', '0'], {env})
    const events = serve.stdoutLines.map((l) => JSON.parse(l))
    return {admin: events.find((e) => e.event === 'admin').url, env, mqtt: events.find((e) => e.event === 'listening').url}
  }

  it('restores the bans, and a removed ban stays removed', async () => {
    let s = await start()
    const add = await runBin(['banned', 'add', '--username', 'mallory', '--reason', 'kept', '--admin', s.admin], {env: s.env})
    assert.equal(add.code, 0, add.stderr)
    assert.equal((await runBin(['banned', 'add', '--client-id', 'short', '--duration', '1h', '--admin', s.admin], {env: s.env})).code, 0)
    assert.equal(await serve!.stop(), 0)

    s = await start()
    const listed = JSON.parse((await runBin(['banned', '--json', '--admin', s.admin], {env: s.env})).stdout).banned
    assert.deepEqual(listed.map((b: {kind: string; value: string; reason: string | null}) => [b.kind, b.value, b.reason]).sort(), [['clientId', 'short', null], ['username', 'mallory', 'kept']])
    assert.equal(await refusal(s.mqtt, 'short', 5), 0x8a)
    assert.equal((await runBin(['banned', 'remove', 'username', 'mallory', '--admin', s.admin], {env: s.env})).code, 0)
    assert.equal(await serve!.stop(), 0)

    s = await start()
    const after = JSON.parse((await runBin(['banned', '--json', '--admin', s.admin], {env: s.env})).stdout).banned
    assert.deepEqual(after.map((b: {value: string}) => b.value), ['short'])
  })
})
