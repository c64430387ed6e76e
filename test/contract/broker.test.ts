/**
 * Broker contract, part 1: CONNECT/CONNACK, session takeover, Will, keepalive, topic
 * filters, MQTT 5 properties, cross-transport delivery and interop with mosquitto's
 * clients. MQTT.js v5 is the independent client; raw wires check exact bytes.
 * Sessions, QoS/retained and malformed packets live in the sibling files.
 */
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import type {IClientOptions} from 'mqtt'
import type {Scheme} from '../../src/core/config.js'
import {SCHEMES, startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'
import {
  Tracker,
  VERSIONS,
  brokerClosed,
  connectPacket,
  connectWire,
  expectViolation,
  jsClosed,
  openJs,
  openWire,
  rawPeer,
  rawPublish,
  rawSubscribe,
  settle,
  uid,
  useSuiteBroker,
  versionLabel,
  versionOptions,
  waitForSubscriber,
  withBroker,
  within,
} from '../helpers/contract.js'
import type {JsClient, Version} from '../helpers/contract.js'
import {delay} from '../helpers/mqttjs.js'
import {hex} from '../helpers/raw.js'

const PINGREQ = hex('c0 00')

for (const scheme of SCHEMES) {
  for (const version of VERSIONS) {
    const v5 = version === 5

    describe(`broker over ${scheme}, MQTT ${versionLabel(version)}`, function () {
      const suite = useSuiteBroker()
      const {t} = suite
      const url = (): string => suite.tb.urls[scheme]
      const js = (o: IClientOptions = {}): Promise<JsClient> => openJs(t, url(), {clientId: uid(), ...versionOptions(version), ...o})

      describe('CONNECT and CONNACK', function () {
        it(`accepts CONNECT with ${v5 ? 'reason' : 'return'} code 0 and session present 0`, async function () {
          const c = await js()
          assert.equal(v5 ? c.connack.reasonCode : c.connack.returnCode, 0)
          assert.equal(c.connack.sessionPresent, false)
          if (v5) {
            assert.equal(c.connack.properties?.sharedSubscriptionAvailable, true)
            assert.equal(c.connack.properties?.assignedClientIdentifier, undefined, 'no id is assigned to a client that has one')
          }
        })

        it(`gives two clients with an empty client id distinct sessions${v5 ? ' and Assigned Client Identifiers' : ''}`, async function () {
          const a = await js({clientId: ''})
          const b = await js({clientId: ''})
          if (v5) {
            const ida = a.connack.properties?.assignedClientIdentifier
            const idb = b.connack.properties?.assignedClientIdentifier
            assert.ok(typeof ida === 'string' && ida.length > 0, 'CONNACK carries an assigned client id')
            assert.ok(typeof idb === 'string' && idb.length > 0, 'CONNACK carries an assigned client id')
            assert.notEqual(ida, idb)
          }
          // Had they been given the same id, b would have taken a over and a would be closed.
          const topic = uid('t')
          await a.client.subscribeAsync(topic)
          await b.client.publishAsync(topic, 'still here', {qos: 1})
          assert.equal((await a.inbox.one()).payload.toString(), 'still here')
        })

        if (!v5) {
          it('refuses an empty client id with clean session 0: CONNACK return code 2, then close', async function () {
            const w = await openWire(t, suite.tb, scheme, 4)
            w.send(hex('10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00'))
            const connack = await w.expect('connack')
            assert.equal(connack.raw.toString('hex'), '20020002')
            await w.closed()
          })
        } else {
          it('accepts an empty client id with clean start 0 and assigns one', async function () {
            const w = await openWire(t, suite.tb, scheme, 5)
            w.send(hex('10 0d 00 04 4d 51 54 54 05 00 00 3c 00 00 00'))
            const connack = await w.expect('connack')
            assert.equal(connack.reasonCode, 0)
            assert.match(String(connack.properties?.assignedClientIdentifier), /.+/)
          })

          it('refuses an unsupported authentication method with CONNACK 0x8C, then closes', async function () {
            const w = await openWire(t, suite.tb, scheme, 5)
            w.send(connectPacket(5, {properties: {authenticationMethod: 'SCRAM-SHA-256'}}))
            const connack = await w.expect('connack')
            assert.equal(connack.reasonCode, 0x8c)
            await w.closed()
          })
        }

        it('answers an unsupported protocol level (6) with CONNACK 0x01, then closes', async function () {
          const w = await openWire(t, suite.tb, scheme, version)
          w.send(hex(v5 ? '10 0d 00 04 4d 51 54 54 06 02 00 3c 00 00 00' : '10 0c 00 04 4d 51 54 54 06 02 00 3c 00 00'))
          await w.closed()
          assert.equal(w.peer.received().toString('hex'), '20020001')
        })

        it('closes a connection whose first packet is not CONNECT, sending nothing', async function () {
          const w = await openWire(t, suite.tb, scheme, version)
          w.send(v5 ? rawPublish(4, {topic: 'a', payload: 'hi'}) : PINGREQ)
          await w.closed()
          assert.equal(w.peer.received().length, 0)
        })

        it(`closes the connection on a second CONNECT${v5 ? ', after DISCONNECT 0x82' : ''}`, async function () {
          const {wire} = await connectWire(t, suite.tb, scheme, version)
          wire.send(connectPacket(version))
          await expectViolation(wire, 0x82)
        })
      })

      describe('session takeover', function () {
        it(`closes the old connection when the same client id connects again${v5 ? ', with DISCONNECT 0x8E' : ''}`, async function () {
          const id = uid()
          const topic = uid('t')
          const a = await js({clientId: id, ...versionOptions(version, true)})
          await a.client.subscribeAsync(topic, {qos: 1})
          const aDisconnect = new Promise<{reasonCode?: number}>((resolve) => a.client.once('disconnect', resolve))
          const aClosed = jsClosed(a.client)
          const b = await js({clientId: id, ...versionOptions(version, true)})
          await aClosed
          if (v5) assert.equal((await within(aDisconnect, 1000, 'DISCONNECT to the old client')).reasonCode, 0x8e)
          assert.equal(b.connack.sessionPresent, true)
          // The new connection took the session over, subscription included.
          const p = await js()
          await p.client.publishAsync(topic, 'for b', {qos: 1})
          assert.equal((await b.inbox.one()).payload.toString(), 'for b')
          assert.equal(b.client.connected, true)
        })
      })

      describe('Will', function () {
        async function watcher(topic: string): Promise<JsClient> {
          const w = await js()
          await w.client.subscribeAsync(topic, {qos: 1})
          return w
        }
        const will = (topic: string, retain = false) => ({topic, payload: Buffer.from('gone'), qos: 1 as const, retain})

        it('publishes the Will when the connection drops without DISCONNECT', async function () {
          const topic = uid('will')
          const w = await watcher(topic)
          const a = await js({will: will(topic)})
          a.client.stream.destroy()
          const m = await w.inbox.one()
          assert.equal(m.topic, topic)
          assert.equal(m.payload.toString(), 'gone')
          assert.equal(m.packet.qos, 1)
          assert.equal(m.packet.retain, false)
        })

        it('does not publish the Will after a normal DISCONNECT', async function () {
          const topic = uid('will')
          const w = await watcher(topic)
          const id = uid()
          const a = await js({clientId: id, will: will(topic)})
          const gone = brokerClosed(suite.tb.broker, id)
          await a.client.endAsync()
          await gone
          await w.client.publishAsync(topic, 'marker', {qos: 1})
          assert.equal((await w.inbox.one()).payload.toString(), 'marker')
        })

        if (v5) {
          it('publishes the Will on DISCONNECT with reason code 0x04', async function () {
            const topic = uid('will')
            const w = await watcher(topic)
            const a = await js({will: will(topic)})
            await a.client.endAsync(false, {reasonCode: 0x04})
            assert.equal((await w.inbox.one()).payload.toString(), 'gone')
          })
        }

        it(`publishes the Will after a protocol error${v5 ? ' (DISCONNECT 0x90)' : ''}`, async function () {
          const topic = uid('will')
          const w = await watcher(topic)
          const {wire} = await connectWire(t, suite.tb, scheme, version, {will: {topic, payload: 'gone'}})
          wire.send(rawPublish(version, {topic: 'a/+', payload: 'x'}))
          await expectViolation(wire, 0x90)
          assert.equal((await w.inbox.one()).payload.toString(), 'gone')
        })

        it('retains the Will when its retain flag is set', async function () {
          const topic = uid('will')
          const w = await watcher(topic)
          const a = await js({will: will(topic, true)})
          a.client.stream.destroy()
          const live = await w.inbox.one()
          assert.equal(live.payload.toString(), 'gone')
          assert.equal(live.packet.retain, false, 'a live delivery has retain 0')
          const late = await js()
          await late.client.subscribeAsync(topic, {qos: 1})
          const stored = await late.inbox.one()
          assert.equal(stored.payload.toString(), 'gone')
          assert.equal(stored.packet.retain, true)
        })
      })

      describe('topic filters', function () {
        it('matches + to exactly one level and # to any number of levels, the parent included', async function () {
          const p = uid('f')
          const plus = await js()
          await plus.client.subscribeAsync(`${p}/+/c`)
          const hash = await js()
          await hash.client.subscribeAsync(`${p}/#`)
          const pub = await js()
          const topics = [`${p}/b/c`, `${p}/b/d`, `${p}/b/c/d`, p, `${p}//c`, `${p}/x/c`]
          for (const topic of topics) await pub.client.publishAsync(topic, topic, {qos: 1})
          assert.deepEqual(
            (await plus.inbox.take(3)).map((m) => m.topic),
            [`${p}/b/c`, `${p}//c`, `${p}/x/c`],
          )
          assert.deepEqual(
            (await hash.inbox.take(6)).map((m) => m.topic),
            topics,
          )
        })

        it('does not match $-topics with a leading wildcard ("#" does not receive "$SYS/x")', async function () {
          // Clients may publish to $-topics only on a broker that allows it (limits.allowReservedTopics).
          const own = new Tracker()
          await withBroker(own, {limits: {allowReservedTopics: true}}, async (b) => {
            const open = (): Promise<JsClient> => openJs(own, b.urls[scheme], {clientId: uid(), ...versionOptions(version)})
            const p = uid('d')
            const all = await open()
            await all.client.subscribeAsync(['#', `+/${p}`])
            const sys = await open()
            await sys.client.subscribeAsync('$SYS/#')
            const pub = await open()
            await pub.client.publishAsync(`$SYS/${p}`, 'sys', {qos: 1})
            await pub.client.publishAsync(`${p}/marker`, 'marker', {qos: 1})
            assert.equal((await sys.inbox.one()).topic, `$SYS/${p}`, 'an explicit $SYS/# subscription receives it')
            for (let i = 0; i < 100; i++) {
              const m = await all.inbox.one()
              assert.ok(!m.topic.startsWith('$'), `"#" or "+/…" received ${m.topic}`)
              if (m.topic === `${p}/marker`) return
            }
            assert.fail('the marker did not arrive')
          })
        })

        it(`stops delivery after UNSUBSCRIBE${v5 ? ', with UNSUBACK 0x00 for a subscription and 0x11 for none' : ''}`, async function () {
          const topic = uid('u')
          const marker = uid('m')
          const {wire} = await connectWire(t, suite.tb, scheme, version)
          assert.deepEqual(await rawSubscribe(wire, [topic, marker]), [0, 0])
          wire.send({cmd: 'unsubscribe', messageId: 2, unsubscriptions: [topic, uid('never')]})
          const unsuback = await wire.expect('unsuback')
          assert.equal(unsuback.messageId, 2)
          if (v5) assert.deepEqual(unsuback.granted, [0x00, 0x11])
          const pub = await js()
          await pub.client.publishAsync(topic, 'unsubscribed', {qos: 1})
          await pub.client.publishAsync(marker, 'marker', {qos: 1})
          assert.equal((await wire.expect('publish')).topic, marker, 'a message arrived after UNSUBSCRIBE')
        })

        it(`refuses invalid filters in SUBACK with ${v5 ? '0x8F' : '0x80'} and grants the valid ones`, async function () {
          const {wire} = await connectWire(t, suite.tb, scheme, version)
          const codes = await rawSubscribe(wire, [{topic: `${uid('ok')}/#`, qos: 1}, 'a/#/b', 'a+', '#a', 'a/b#', '+a/b', 'a/++', {topic: 'x/+/y', qos: 2}])
          const bad = v5 ? 0x8f : 0x80
          assert.deepEqual(codes, [1, bad, bad, bad, bad, bad, bad, 2])
          wire.send(PINGREQ)
          await wire.expect('pingresp')
        })
      })

      if (v5) {
        describe('MQTT 5 properties', function () {
          it('forwards payload format, content type, response topic, correlation data and user properties unchanged', async function () {
            const topic = uid('props')
            const sub = await js()
            await sub.client.subscribeAsync(topic, {qos: 2})
            const pub = await js()
            for (const qos of [0, 1, 2] as const) {
              await pub.client.publishAsync(topic, '{"n":1}', {
                qos,
                properties: {
                  payloadFormatIndicator: true,
                  contentType: 'application/json',
                  responseTopic: `${topic}/reply`,
                  correlationData: Buffer.from([0, 1, 2, 0xff]),
                  userProperties: {a: '1', b: ['x', 'y']},
                },
              })
            }
            const got = await sub.inbox.take(3)
            assert.deepEqual(
              got.map((m) => m.packet.qos),
              [0, 1, 2],
            )
            for (const m of got) {
              const p = m.packet.properties ?? {}
              assert.equal(p.payloadFormatIndicator, true)
              assert.equal(p.contentType, 'application/json')
              assert.equal(p.responseTopic, `${topic}/reply`)
              assert.deepEqual(Buffer.from(p.correlationData ?? []), Buffer.from([0, 1, 2, 0xff]))
              assert.deepEqual({...p.userProperties}, {a: '1', b: ['x', 'y']})
              assert.equal(m.payload.toString(), '{"n":1}')
            }
          })

          it('delivers the subscription identifiers of every matching subscription', async function () {
            const p = uid('sid')
            const sub = await js()
            await sub.client.subscribeAsync(`${p}/a`, {qos: 1, properties: {subscriptionIdentifier: 7}})
            await sub.client.subscribeAsync(`${p}/+`, {qos: 1, properties: {subscriptionIdentifier: 9}})
            await sub.client.subscribeAsync(`${p}/#`, {qos: 1})
            const pub = await js()
            await pub.client.publishAsync(`${p}/a`, 'a', {qos: 1})
            await pub.client.publishAsync(`${p}/b`, 'b', {qos: 0})
            await pub.client.publishAsync(p, 'none', {qos: 1})
            const [a, b, none] = await sub.inbox.take(3)
            const ids = (m: typeof a): number[] => [m.packet.properties?.subscriptionIdentifier ?? []].flat().sort((x, y) => x - y)
            assert.equal(a.payload.toString(), 'a')
            assert.deepEqual(ids(a), [7, 9])
            assert.deepEqual(ids(b), [9])
            assert.deepEqual(ids(none), [])
          })
        })
      }
    })
  }
}

/**
 * Keepalive and connect timeout need real seconds, so the scenario for every transport and
 * version starts at once in before(); each test then reports its own scenario's outcome.
 */
describe('timers: keepalive and connect timeout', function () {
  let tb: TestBroker
  let short: TestBroker
  const t = new Tracker()
  const outcomes = new Map<string, Promise<Error | undefined>>()

  /** A silent client with keepalive 1 is closed (MQTT 5: DISCONNECT 0x8D) and its Will published; a pinging one stays. */
  async function keepalive(scheme: Scheme, version: Version): Promise<void> {
    const topic = uid('will')
    const w = await openJs(t, tb.urls[scheme], {clientId: uid(), ...versionOptions(version)})
    await w.client.subscribeAsync(topic, {qos: 1})
    const {wire: silent} = await connectWire(t, tb, scheme, version, {keepalive: 1, will: {topic, payload: 'silent'}})
    const {wire: pinger} = await connectWire(t, tb, scheme, version, {keepalive: 1})
    // Closed at 1.5 s; 7 rounds of 400 ms (2.8 s) leave room for a slow machine but not for a laxer limit.
    for (let i = 0; i < 7 && !silent.isClosed; i++) {
      await delay(400)
      pinger.send(PINGREQ)
      await pinger.expect('pingresp')
    }
    assert.equal(silent.isClosed, true, 'the silent client was closed')
    if (version === 5) assert.equal((await silent.expect('disconnect')).reasonCode, 0x8d)
    assert.equal((await w.inbox.one()).payload.toString(), 'silent')
    pinger.send(PINGREQ)
    await pinger.expect('pingresp')
    assert.equal(pinger.isClosed, false, 'the pinging client is still connected')
  }

  /** On a broker with connectTimeoutMs 300, a socket that sends nothing is closed; one that connected stays. */
  async function connectTimeout(scheme: Scheme, version: Version): Promise<void> {
    const {wire: connected} = await connectWire(t, short, scheme, version)
    const idle = t.raw(await rawPeer(short, scheme))
    await within(idle.closed, 3000, 'the connect timeout to close the idle socket')
    assert.equal(idle.received().length, 0)
    connected.send(PINGREQ)
    await connected.expect('pingresp')
    assert.equal(connected.isClosed, false)
  }

  before(async () => {
    tb = await startBroker()
    short = await startBroker({limits: {connectTimeoutMs: 300}})
    for (const scheme of SCHEMES) {
      for (const version of VERSIONS) {
        outcomes.set(`keepalive ${scheme} ${version}`, settle(keepalive(scheme, version)))
        outcomes.set(`connect ${scheme} ${version}`, settle(connectTimeout(scheme, version)))
      }
    }
  })
  after(async () => {
    await Promise.all(outcomes.values())
    t.closeAll()
    await Promise.all([tb?.close(), short?.close()])
  })

  for (const scheme of SCHEMES) {
    for (const version of VERSIONS) {
      const label = `over ${scheme}, MQTT ${versionLabel(version)}`
      it(`${label}: closes a client silent for 1.5 × keepalive${version === 5 ? ' (DISCONNECT 0x8D)' : ''} and publishes its Will; one that pings stays`, async function () {
        const error = await outcomes.get(`keepalive ${scheme} ${version}`)
        if (error) throw error
      })
      it(`${label}: closes a socket that sends no CONNECT within the connect timeout; a connected one stays`, async function () {
        const error = await outcomes.get(`connect ${scheme} ${version}`)
        if (error) throw error
      })
    }
  }
})

describe('cross-transport delivery', function () {
  let tb: TestBroker
  const t = new Tracker()
  const prefix = uid('x')
  const subs: Array<{scheme: Scheme; version: Version; c: JsClient}> = []

  before(async () => {
    tb = await startBroker()
    for (const scheme of SCHEMES) {
      for (const version of VERSIONS) {
        const c = await openJs(t, tb.urls[scheme], {clientId: uid(), ...versionOptions(version)})
        await c.client.subscribeAsync(`${prefix}/#`, {qos: 1})
        subs.push({scheme, version, c})
      }
    }
  })
  after(async () => {
    t.closeAll()
    await tb?.close()
  })

  for (const from of SCHEMES) {
    for (const version of VERSIONS) {
      it(`a binary payload published over ${from} with MQTT ${versionLabel(version)} reaches subscribers on every transport byte for byte`, async function () {
        const pubTracker = new Tracker()
        try {
          const pub = await openJs(pubTracker, tb.urls[from], {clientId: uid(), ...versionOptions(version)})
          const payload = Buffer.concat([Buffer.from(Array.from({length: 256}, (_, i) => i)), randomBytes(3000)])
          const topic = `${prefix}/${from}/${version}`
          await pub.client.publishAsync(topic, payload, {qos: 0})
          await pub.client.publishAsync(topic, payload, {qos: 1})
          for (const s of subs) {
            const got = await s.c.inbox.take(2)
            for (const [i, m] of got.entries()) {
              const where = `subscriber over ${s.scheme} (MQTT ${versionLabel(s.version)}), QoS ${i}`
              assert.equal(m.topic, topic, where)
              assert.equal(m.packet.qos, i, where)
              assert.ok(m.payload.equals(payload), `${where}: payload differs`)
            }
          }
        } finally {
          pubTracker.closeAll()
        }
      })
    }
  }
})

describe('interop with mosquitto clients', function () {
  let tb: TestBroker
  const t = new Tracker()
  const children: ChildProcess[] = []
  const available = spawnSync('mosquitto_sub', ['--help']).error === undefined && spawnSync('mosquitto_pub', ['--help']).error === undefined

  before(async function () {
    if (available) tb = await startBroker()
  })
  afterEach(() => {
    t.closeAll()
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  })
  after(async () => {
    await tb?.close()
  })

  function skipWhenAbsent(ctx: Mocha.Context): void {
    if (available) return
    if (ctx.test) ctx.test.title += ' (skipped: mosquitto_pub/mosquitto_sub are not on PATH; Debian: apt-get install mosquitto-clients)'
    ctx.skip()
  }

  /** Starts mosquitto_sub for one message on `topic`; resolves once it has subscribed. */
  async function mosquittoSub(topic: string, args: string[]): Promise<{exit: Promise<{code: number | null; out: string}>}> {
    const child = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(tb.ports.mqtt), '-C', '1', '-t', topic, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(child)
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const exited = new Promise<{code: number | null; out: string}>((resolve) => child.once('exit', (code) => resolve({code, out})))
    // mosquitto_sub buffers its output when piped, so ask the broker whether the subscription exists.
    await waitForSubscriber(tb.broker, topic)
    // Wrapped in an object: an async function would otherwise wait for the exit itself.
    return {
      exit: within(exited, 5000, 'mosquitto_sub to receive one message').catch((e: Error) => {
        throw new Error(`${e.message}; its output: ${out}`)
      }),
    }
  }

  function mosquittoPub(args: string[]): Promise<number | null> {
    const child = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(tb.ports.mqtt), ...args], {stdio: 'ignore'})
    children.push(child)
    return within(new Promise((resolve) => child.once('exit', resolve)), 5000, 'mosquitto_pub to finish')
  }

  for (const v of ['mqttv311', 'mqttv5']) {
    it(`mosquitto_sub receives from mosquitto_pub over TCP (-V ${v})`, async function () {
      skipWhenAbsent(this)
      const topic = uid('mosq')
      const payload = `hello ${v}`
      const done = await mosquittoSub(topic, ['-V', v, '-q', '1'])
      assert.equal(await mosquittoPub(['-V', v, '-q', '1', '-t', topic, '-m', payload]), 0)
      const {code, out} = await done.exit
      assert.equal(code, 0, out)
      assert.ok(out.split('\n').includes(payload), out)
    })
  }

  it('mosquitto_sub (TCP) receives a message MQTT.js publishes over WebSocket', async function () {
    skipWhenAbsent(this)
    const topic = uid('mosq')
    const done = await mosquittoSub(topic, ['-V', 'mqttv5', '-q', '1'])
    const pub = await openJs(t, tb.urls.ws, {clientId: uid(), protocolVersion: 5})
    await pub.client.publishAsync(topic, 'from mqtt.js over ws', {qos: 1})
    const {code, out} = await done.exit
    assert.equal(code, 0, out)
    assert.ok(out.split('\n').includes('from mqtt.js over ws'), out)
  })
})
