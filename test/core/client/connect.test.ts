/**
 * The client engine against the mqttws broker over mqtt, mqtts, ws and wss, with MQTT 3.1,
 * 3.1.1 and 5: connect, subscribe, and QoS 0/1/2 in both directions (the client publishes
 * with each QoS and receives the broker's deliveries with each QoS).
 */
import assert from 'node:assert/strict'
import {MqttClient} from '../../../src/core/client/client.js'
import type {ClientOptions} from '../../../src/core/client/types.js'
import type {ProtocolVersion} from '../../../src/core/protocol/codec.js'
import {SCHEMES, startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {testCertificate} from '../../helpers/certs.js'
import {uid} from '../../helpers/contract.js'
import {nextMessages} from './fake-broker.js'

const VERSIONS: ReadonlyArray<[ProtocolVersion, string]> = [
  [3, '3.1'],
  [4, '3.1.1'],
  [5, '5'],
]

describe('MqttClient: connect and QoS 0/1/2 over every transport and version', function () {
  let tb: TestBroker
  let ca: string
  const open: MqttClient[] = []

  const connect = async (o: Partial<ClientOptions> & {url: string}): Promise<MqttClient> => {
    const client = await MqttClient.connect({dial: {tls: {ca}}, connectTimeoutMs: 5000, ...o})
    open.push(client)
    return client
  }

  before(async () => {
    tb = await startBroker()
    ca = (await testCertificate()).cert
  })
  afterEach(() => {
    for (const c of open.splice(0)) c.destroy()
  })
  after(async () => {
    await tb?.close()
  })

  for (const scheme of SCHEMES) {
    for (const [version, label] of VERSIONS) {
      it(`${scheme}, MQTT ${label}: publishes and receives QoS 0, 1 and 2`, async function () {
        const client = await connect({url: tb.urls[scheme], protocolVersion: version})
        assert.equal(client.connected, true)
        assert.equal(client.scheme, scheme)
        assert.equal(client.version, version)
        if (scheme === 'ws' || scheme === 'wss') assert.equal(client.subprotocol, 'mqtt')
        else assert.equal(client.subprotocol, undefined)
        // 3.1 has no broker-assigned ids: the client makes one up; 3.1.1 and 5 get one from the broker (5 says which).
        if (version === 3) assert.match(client.clientId, /^mqttws-[0-9a-f]{12}$/)
        if (version === 5) assert.notEqual(client.clientId, '')

        const topic = uid(`conn/${scheme}/${version}`)
        assert.deepEqual(await client.subscribe([{topic: `${topic}/#`, qos: 2}]), [2])
        const inbox = nextMessages(client, 3)
        const codes = await Promise.all([0, 1, 2].map((qos) => client.publishAsync(`${topic}/${qos}`, `payload ${qos}`, {qos: qos as 0 | 1 | 2})))
        assert.deepEqual(codes, [0, 0, 0])
        const got = (await inbox).sort((a, b) => a.topic.localeCompare(b.topic))
        assert.deepEqual(
          got.map((p) => [p.topic, p.qos, String(p.payload)]),
          [0, 1, 2].map((qos) => [`${topic}/${qos}`, qos, `payload ${qos}`]),
        )
        await client.end()
        assert.equal(client.closed, true)
        assert.equal(client.connected, false)
      })
    }
  }

  it('counts bytes at the socket under WebSocket framing and TLS', async function () {
    const client = await connect({url: tb.urls.wss})
    const before = client.bytesWritten
    await client.publishAsync(uid('bytes'), Buffer.alloc(100), {qos: 1})
    // 100 payload bytes plus the PUBLISH header, the WS frame header and TLS record overhead.
    assert.ok(client.bytesWritten - before > 100 + 2 + 4, `wrote ${client.bytesWritten - before} bytes`)
    assert.ok(client.bytesRead > 0)
  })

  it('takes the broker-assigned client id and keeps a given one', async function () {
    const given = uid('given')
    const a = await connect({url: tb.urls.mqtt, clientId: given})
    assert.equal(a.clientId, given)
    const b = await connect({url: tb.urls.mqtt, protocolVersion: 5})
    assert.ok(b.clientId.length > 0)
    assert.equal(b.connack?.properties?.assignedClientIdentifier, b.clientId)
  })

  it('unsubscribes: UNSUBACK codes in MQTT 5, and no more messages afterwards', async function () {
    const client = await connect({url: tb.urls.mqtt, protocolVersion: 5})
    const topic = uid('unsub')
    await client.subscribe([{topic, qos: 1}])
    assert.deepEqual(await client.unsubscribe([topic]), [0])
    // A barrier: a message to a second subscription arrives after anything sent to the first.
    await client.subscribe([{topic: `${topic}/after`, qos: 1}])
    const inbox = nextMessages(client, 1)
    await client.publishAsync(topic, 'dropped', {qos: 1})
    await client.publishAsync(`${topic}/after`, 'kept', {qos: 1})
    assert.deepEqual((await inbox).map((p) => String(p.payload)), ['kept'])
  })

  it('fails publish and subscribe once ended, with an error naming the URL', async function () {
    const client = await connect({url: tb.urls.mqtt})
    await client.end()
    await assert.rejects(client.publishAsync('a', 'b', {qos: 1}), /not connected/)
    await assert.rejects(client.publishAsync('a', 'b', {qos: 0}), /not connected/)
    await assert.rejects(client.subscribe([{topic: 'a', qos: 0}]), new RegExp(`${tb.urls.mqtt}: not connected`))
  })

  it('sends the Will with its properties, published by the broker when the client vanishes', async function () {
    const watcher = await connect({url: tb.urls.mqtt, protocolVersion: 5})
    const topic = uid('will')
    await watcher.subscribe([{topic, qos: 1}])
    const inbox = nextMessages(watcher, 1)
    const doomed = await connect({
      url: tb.urls.ws,
      protocolVersion: 5,
      will: {topic, payload: 'gone', qos: 1, retain: false, properties: {contentType: 'text/plain'}},
    })
    doomed.destroy()
    const [will] = await inbox
    assert.equal(String(will.payload), 'gone')
    assert.equal(will.properties?.contentType, 'text/plain')
  })
})
