/**
 * Fuzzing a running broker with fast-check: random, generated and mutated packets over
 * TCP and WebSocket, each run on its own connection after a valid CONNECT. The broker
 * must never throw (an uncaught exception fails the test), must forget every connection,
 * must keep serving a bystander, and its heap must stay flat across the runs.
 * FUZZ_SEED=n repeats a run (fast-check also prints the seed and path of a failure).
 *
 * Also here: reliability.md row 2 / G2, a declared 100 MB packet before CONNECT on 14
 * sockets at once must not grow the broker's memory.
 */
import assert from 'node:assert/strict'
import v8 from 'node:v8'
import vm from 'node:vm'
import fc from 'fast-check'
import mqttPacket from 'mqtt-packet'
import type {Packet} from 'mqtt-packet'
import type {Scheme} from '../../src/core/config.js'
import {startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'
import {Tracker, openJs, rawPeer, uid, within} from '../helpers/contract.js'
import type {JsClient} from '../helpers/contract.js'
import {rawTcp} from '../helpers/raw.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
const RUNS = 150

// ---- generators -----------------------------------------------------------------------------

const topicArb = fc.constantFrom('f', 'f/a', 'f/+', 'f/#', '#', '+/x', '$SYS/x', '', 'a/b/c', '$share/g/f', '$queue/f', '\u0000', 'é/ü')
const qosArb = fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>
const idArb = fc.oneof(fc.constant(0), fc.integer({min: 1, max: 5}), fc.integer({min: 1, max: 65535}))
const propsArb = fc.option(
  fc.record(
    {
      payloadFormatIndicator: fc.boolean(),
      messageExpiryInterval: fc.integer({min: 0, max: 5}),
      topicAlias: fc.integer({min: 0, max: 12}),
      responseTopic: topicArb,
      correlationData: fc.uint8Array({maxLength: 8}).map((a) => Buffer.from(a)),
      userProperties: fc.dictionary(fc.string({maxLength: 4}), fc.string({maxLength: 4}), {maxKeys: 3}),
      contentType: fc.string({maxLength: 8}),
      subscriptionIdentifier: fc.integer({min: 0, max: 300}),
    },
    {requiredKeys: []},
  ),
  {nil: undefined},
)

const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({
    cmd: fc.constant('publish' as const),
    topic: topicArb,
    payload: fc.uint8Array({maxLength: 64}).map((a) => Buffer.from(a)),
    qos: qosArb,
    retain: fc.boolean(),
    dup: fc.boolean(),
    messageId: idArb,
    properties: propsArb,
  }),
  fc.record({
    cmd: fc.constant('subscribe' as const),
    messageId: idArb,
    subscriptions: fc.array(fc.record({topic: topicArb, qos: qosArb, nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom(0, 1, 2)}), {minLength: 1, maxLength: 3}),
    properties: fc.option(fc.record({subscriptionIdentifier: fc.integer({min: 1, max: 100})}), {nil: undefined}),
  }),
  fc.record({cmd: fc.constant('unsubscribe' as const), messageId: idArb, unsubscriptions: fc.array(topicArb, {minLength: 1, maxLength: 3})}),
  fc.record({cmd: fc.constantFrom('puback' as const, 'pubrec' as const, 'pubrel' as const, 'pubcomp' as const), messageId: idArb}),
  fc.constant({cmd: 'pingreq' as const}),
  fc.record({cmd: fc.constant('disconnect' as const), reasonCode: fc.constantFrom(0, 4, 0x80)}),
  fc.record({cmd: fc.constant('auth' as const), reasonCode: fc.constantFrom(0, 0x18)}),
) as fc.Arbitrary<Packet>

/** A packet encoded for `version`, or random bytes when mqtt-packet refuses to encode it. */
function encodeOr(p: Packet, version: 4 | 5, fallback: Buffer): Buffer {
  try {
    return mqttPacket.generate(p, {protocolVersion: version})
  } catch {
    return fallback
  }
}

interface Mutation {
  at: number
  kind: 'flip' | 'set' | 'cut' | 'insert'
  value: number
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({at: fc.nat(), kind: fc.constantFrom('flip', 'set', 'cut', 'insert'), value: fc.nat({max: 255})}) as fc.Arbitrary<Mutation>

function mutate(bytes: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(bytes)
  for (const m of ms) {
    if (b.length === 0) break
    const at = m.at % b.length
    if (m.kind === 'flip') b[at] ^= 1 << (m.value % 8)
    else if (m.kind === 'set') b[at] = m.value
    else if (m.kind === 'cut') b = b.subarray(0, at)
    else b = Buffer.concat([b.subarray(0, at), Buffer.from([m.value]), b.subarray(at)])
  }
  return b
}

/** What one run sends after its CONNECT. */
const inputArb = fc.record({
  version: fc.constantFrom(4, 5) as fc.Arbitrary<4 | 5>,
  chunks: fc.array(
    fc.oneof(
      {weight: 3, arbitrary: fc.tuple(packetArb, fc.constant<Mutation[]>([]))},
      {weight: 3, arbitrary: fc.tuple(packetArb, fc.array(mutationArb, {minLength: 1, maxLength: 3}))},
      {weight: 1, arbitrary: fc.uint8Array({minLength: 1, maxLength: 40}).map((a) => Buffer.from(a))},
    ),
    {minLength: 1, maxLength: 6},
  ),
})

type Input = typeof inputArb extends fc.Arbitrary<infer T> ? T : never

function bytesOf(input: Input): Buffer[] {
  return input.chunks.map((c) => (Buffer.isBuffer(c) ? c : mutate(encodeOr(c[0], input.version, Buffer.from([0xc0, 0x00])), c[1])))
}

// ---- the runs ---------------------------------------------------------------------------------

describe('fuzz: random and mutated packets against a running broker', function () {
  let tb: TestBroker
  const t = new Tracker()
  let bystander: JsClient
  const uncaught: Error[] = []
  const onUncaught = (error: Error): void => {
    uncaught.push(error)
  }

  before(async () => {
    tb = await startBroker({limits: {connectTimeoutMs: 500}})
    bystander = await openJs(t, tb.urls.mqtt, {clientId: uid('bystander'), protocolVersion: 5})
    await bystander.client.subscribeAsync('alive', {qos: 1})
    process.on('uncaughtException', onUncaught)
  })
  after(async () => {
    process.off('uncaughtException', onUncaught)
    t.closeAll()
    await tb?.close()
  })

  async function alive(text: string): Promise<void> {
    await bystander.client.publishAsync('alive', text, {qos: 1})
    // Fuzzed clients may publish to "alive" too: read until our own message.
    for (let i = 0; i < 200; i++) if ((await bystander.inbox.one()).payload.toString() === text) return
    assert.fail('the bystander never got its message back')
  }

  /** One fuzz run: a connection, a valid CONNECT, then the generated bytes. */
  async function run(scheme: Scheme, input: Input): Promise<void> {
    const peer = await rawPeer(tb, scheme)
    try {
      peer.send(mqttPacket.generate({cmd: 'connect', protocolId: 'MQTT', protocolVersion: input.version, clean: true, clientId: 'fuzz', keepalive: 0}, {protocolVersion: input.version}))
      for (const b of bytesOf(input)) peer.send(b)
      // Pacing, not an assertion: give the broker a moment to answer or close.
      await Promise.race([peer.closed, new Promise((resolve) => setTimeout(resolve, 15))])
    } finally {
      peer.close()
    }
  }

  async function settleConnections(): Promise<void> {
    // Closing is asynchronous; bounded wait until the broker has forgotten every fuzz connection.
    for (let i = 0; i < 150 && tb.broker.connections.size > 1; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(tb.broker.connections.size, 1, 'only the bystander is left')
  }

  for (const scheme of ['mqtt', 'ws'] as const) {
    it(`${scheme}: ${RUNS} runs never throw, leave no connection behind, keep the heap flat and the bystander served`, async function () {
      this.timeout(60_000)
      const params = {numRuns: RUNS, seed: SEED, endOnFailure: true}
      // Warm-up, so that the measurement below sees steady state (JIT, pools, caches).
      await fc.assert(fc.asyncProperty(inputArb, (input) => run(scheme, input)), {...params, numRuns: 40})
      await settleConnections()
      gc()
      const before = process.memoryUsage().heapUsed
      await fc.assert(fc.asyncProperty(inputArb, (input) => run(scheme, input)), params)
      await settleConnections()
      gc()
      const grown = process.memoryUsage().heapUsed - before
      assert.deepEqual(uncaught, [], 'uncaught exceptions')
      assert.ok(grown < 8 * 1024 * 1024, `the heap grew by ${(grown / 1048576).toFixed(1)} MiB over ${RUNS} runs`)
      // Nothing accumulates per run: sessions end with their connections, no group is left.
      assert.ok(tb.broker.sessionCount <= 2, `${tb.broker.sessionCount} sessions left`)
      await alive(`${scheme} after fuzzing`)
    })
  }

  it('a declared 100 MB packet before CONNECT, on 14 sockets at once, is refused without growing memory (row 2, G2)', async function () {
    this.timeout(30_000)
    gc()
    const rssBefore = process.memoryUsage().rss
    const heapBefore = process.memoryUsage().heapUsed
    const chunk = Buffer.alloc(1024 * 1024, 0x61)
    const sockets = await Promise.all(Array.from({length: 14}, (_, i) => rawTcp(tb.ports.mqtt, false, {noDelay: true})))
    const sent = await Promise.all(
      sockets.map(async (peer, i) => {
        // A PUBLISH header (closed at its first byte) or a CONNECT header declaring 243 MB.
        peer.socket.write(Buffer.from([i % 2 === 0 ? 0x30 : 0x10, 0x80, 0x80, 0x80, 0x74]))
        let mb = 0
        let closed = false
        void peer.closed.then(() => {
          closed = true
        })
        // Up to 100 MB, one MiB at a time, waiting for the socket to take each (no client-side buffering).
        while (mb < 100 && !closed && !peer.socket.destroyed) {
          const ok = peer.socket.write(chunk)
          mb++
          if (!ok) await Promise.race([new Promise((resolve) => peer.socket.once('drain', resolve)), peer.closed])
        }
        await within(peer.closed, 5000, 'the broker to close the flooding socket')
        return mb
      }),
    )
    assert.ok(
      sent.every((mb) => mb < 100),
      `a socket could send all 100 MB: ${sent}`,
    )
    await settleConnections()
    gc()
    const rss = process.memoryUsage().rss - rssBefore
    const heap = process.memoryUsage().heapUsed - heapBefore
    assert.ok(rss < 20 * 1024 * 1024, `RSS grew by ${(rss / 1048576).toFixed(1)} MiB`)
    assert.ok(heap < 4 * 1024 * 1024, `the heap grew by ${(heap / 1048576).toFixed(1)} MiB`)
    await alive('after the flood')
  })
})
