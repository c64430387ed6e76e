/** `mqttws clients` and the dashboard URL of `mqttws serve` (the built binary), over its admin API. */
import assert from 'node:assert/strict'
import type {MqttClient} from 'mqtt'
import {runBin, useAdminServe} from '../helpers/spawn.js'
import {connectMqttJs} from '../helpers/mqttjs.js'

describe('mqttws clients (e2e)', function () {
  const fixture = useAdminServe('clients')
  const clients: MqttClient[] = []

  after(() => {
    for (const c of clients.splice(0)) c.end(true)
  })

  const run = (args: string[]) => runBin(['clients', ...args, '--admin', fixture.admin.url], {env: fixture.env})

  it('serve prints the dashboard URL, which serves the dashboard without the token and the API only with it', async () => {
    assert.equal(fixture.admin.dashboard, `${fixture.admin.url}/`)
    const page = await fetch(fixture.admin.dashboard!)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type')!, /text\/html/)
    assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/)
    assert.match(await page.text(), /<script type="module" src="\/app.js">/)
    assert.equal((await fetch(`${fixture.admin.url}/app.js`)).status, 200)
    assert.equal((await fetch(`${fixture.admin.url}/api/v1/clients`)).status, 401)
  })

  it('lists clients (table and --json) and kicks one', async () => {
    const c = await connectMqttJs(fixture.mqttUrl, {clientId: 'cli-client', protocolVersion: 5, username: 'u1'})
    clients.push(c)
    const kicked = new Promise<number | undefined>((resolve) => c.once('disconnect', (p) => resolve(p.reasonCode)))
    const text = await run([])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /client id\s+state\s+user\s+listener/)
    assert.match(text.stdout, /cli-client\s+connected\s+u1\s+mqtt:0\s+127\.0\.0\.1:\d+\s+MQTT 5\.0/)
    const json = await run(['--json'])
    assert.equal(json.code, 0, json.stderr)
    assert.deepEqual(JSON.parse(json.stdout).clients.map((x: any) => [x.clientId, x.connected, x.transport]), [['cli-client', true, 'tcp']])
    const kick = await run(['kick', 'cli-client'])
    assert.equal(kick.code, 0, kick.stderr)
    assert.match(kick.stdout, /kicked client cli-client/)
    assert.equal(await kicked, 0x98)
    const again = await run(['kick', 'cli-client'])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /no client "cli-client" is connected/)
  })
})
