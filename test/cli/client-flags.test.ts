/**
 * How pub/sub connection flags become client options, in process: URL forms (mosquitto's
 * -L with USER:PASS@ and a topic path), -h/-p/--protocol/--path, -V spellings, -c and -x,
 * WebSocket headers, subprotocols and framing, and the usage errors.
 */
import assert from 'node:assert/strict'
import {clientOptionsFromFlags, topicFromUrl} from '../../src/cli/client-flags.js'
import type {ConnectionFlagValues} from '../../src/cli/client-flags.js'
import {brokerUrl, parseFraming, parseHeader, parseProtocolVersion, parseUserProperty, userProperties} from '../../src/core/client/options.js'
import {ErrorCode, MqttwsError} from '../../src/core/errors.js'

const base: ConnectionFlagValues = {'protocol-version': '5', keepalive: 60, 'no-clean': false, 'connect-timeout': 10, 'will-retain': false, insecure: false, 'ws-framing': 'packet'}
const flags = (o: Partial<ConnectionFlagValues>): ConnectionFlagValues => ({...base, ...o})
const isConfig = (re: RegExp) => (e: MqttwsError) => e instanceof MqttwsError && e.code === ErrorCode.CONFIG && re.test(e.message)

describe('client flags → client options', function () {
  it('-L with USER:PASS@ gives the credentials (decoded) and drops them from the URL', async function () {
    const o = await clientOptionsFromFlags(flags({url: 'mqtt://us%40er:p%3Ass@broker.local:1884/sensors/1'}))
    assert.equal(String(o.url), 'mqtt://broker.local:1884')
    assert.equal(o.username, 'us@er')
    assert.equal(o.password, 'p:ss')
  })

  it('-u/-P win over the URL credentials', async function () {
    const o = await clientOptionsFromFlags(flags({url: 'mqtt://a:b@h:1', username: 'u', password: 'p'}))
    assert.equal(o.username, 'u')
    assert.equal(o.password, 'p')
  })

  it('the path of an mqtt(s) URL is the topic (a literal # too); a WebSocket URL keeps its path', async function () {
    assert.equal(topicFromUrl('mqtt://h/sensors/+/temp'), 'sensors/+/temp')
    assert.equal(topicFromUrl('mqtts://h:8883/a/#'), 'a/#')
    assert.equal(topicFromUrl('mqtt://h/a/%23'), 'a/#')
    assert.equal(topicFromUrl('mqtt://h'), undefined)
    assert.equal(topicFromUrl('ws://h/mqtt'), undefined)
    assert.equal(topicFromUrl('not a url'), undefined)
    assert.equal(String((await clientOptionsFromFlags(flags({url: 'wss://u:p@h:8084/custom'}))).url), 'wss://h:8084/custom')
  })

  it('-h/-p/--protocol/--path build the URL, with default ports per protocol', function () {
    assert.equal(String(brokerUrl({})), 'mqtt://localhost:1883')
    assert.equal(String(brokerUrl({protocol: 'mqtts', host: '10.0.0.1'})), 'mqtts://10.0.0.1:8883')
    assert.equal(String(brokerUrl({protocol: 'ws', port: 9001})), 'ws://localhost:9001/mqtt')
    assert.equal(String(brokerUrl({protocol: 'wss', path: '/ws'})), 'wss://localhost:8084/ws')
    assert.equal(String(brokerUrl({host: '::1', port: 1})), 'mqtt://[::1]:1')
    assert.throws(() => brokerUrl({url: 'mqtt://h', host: 'x'}), isConfig(/either as a URL \(-L\) or as host\/port\/protocol/))
    assert.throws(() => brokerUrl({url: 'http://h'}), isConfig(/has the scheme "http:"/))
    assert.throws(() => brokerUrl({protocol: 'ws', path: 'mqtt'}), isConfig(/must start with \//))
  })

  it('-V takes 3.1, 3.1.1, 5 and mosquitto\'s mqttv31/mqttv311/mqttv5', function () {
    assert.deepEqual(['3.1', 'mqttv31', '3.1.1', 'MQTTv311', '4', '5', '5.0', 'mqttv5'].map(parseProtocolVersion), [3, 3, 4, 4, 4, 5, 5, 5])
    assert.throws(() => parseProtocolVersion('4.0'), isConfig(/not one of 3\.1, 3\.1\.1, 5/))
  })

  it('-c in MQTT 5 keeps the session for good unless -x says otherwise (as mosquitto_sub)', async function () {
    assert.equal((await clientOptionsFromFlags(flags({'no-clean': true}))).properties?.sessionExpiryInterval, 0xffffffff)
    assert.equal((await clientOptionsFromFlags(flags({'no-clean': true, 'session-expiry': 60}))).properties?.sessionExpiryInterval, 60)
    const plain = await clientOptionsFromFlags(flags({}))
    assert.equal(plain.clean, true)
    assert.equal(plain.properties, undefined)
    const v311 = await clientOptionsFromFlags(flags({'no-clean': true, 'protocol-version': '3.1.1'}))
    assert.equal(v311.clean, false)
    assert.equal(v311.properties, undefined)
    await assert.rejects(clientOptionsFromFlags(flags({'session-expiry': 5, 'protocol-version': '3.1.1'})), isConfig(/MQTT 5 features: use -V 5/))
  })

  it('WebSocket headers, subprotocols and framing; Will; TLS files', async function () {
    const o = await clientOptionsFromFlags(
      flags({url: 'ws://h/mqtt', header: ['Authorization: Bearer x', 'X-A:1'], 'ws-subprotocol': 'mqttv3.1, mqtt', 'ws-framing': 'split:7', 'will-topic': 'w', 'will-qos': 1}),
    )
    assert.deepEqual(o.dial?.headers, {Authorization: 'Bearer x', 'X-A': '1'})
    assert.deepEqual(o.dial?.subprotocols, ['mqttv3.1', 'mqtt'])
    assert.deepEqual(o.dial?.framing, {splitBytes: 7})
    assert.deepEqual(o.will, {topic: 'w', payload: '', qos: 1, retain: false})
    await assert.rejects(clientOptionsFromFlags(flags({cafile: '/nonexistent/ca.pem'})), isConfig(/--cafile \/nonexistent\/ca\.pem: no such file/))
  })

  it('parsers: headers, user properties, framing', function () {
    assert.deepEqual(parseHeader('Origin:  http://x '), ['Origin', 'http://x'])
    assert.throws(() => parseHeader('no colon'), isConfig(/is not "Name: value"/))
    assert.deepEqual(parseUserProperty('k=v=w'), ['k', 'v=w'])
    assert.throws(() => parseUserProperty('=v'), isConfig(/is not key=value/))
    assert.deepEqual(userProperties([['a', '1'], ['a', '2'], ['b', '3']]), {a: ['1', '2'], b: '3'})
    assert.equal(parseFraming('piggyback'), 'piggyback')
    assert.throws(() => parseFraming('split:0'), isConfig(/is not one of packet, piggyback, split:N/))
  })
})
