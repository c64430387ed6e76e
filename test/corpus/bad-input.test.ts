/**
 * Runs the bad-input corpus (bad-input.ts) against a live broker over TCP, WebSocket with
 * one packet per frame, WebSocket with the same bytes cut into random frame sizes, and
 * secure WebSocket. Each case checks the exact answer and the close (or that the
 * connection still answers a PINGREQ), then that a bystander client on the same
 * transport is still served. Random frame sizes are seeded: CORPUS_SEED=n repeats a run.
 */
import assert from 'node:assert/strict'
import type {Scheme} from '../../src/core/config.js'
import {startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'
import {Tracker, openJs, rawPeer, settle, uid, within} from '../helpers/contract.js'
import type {JsClient} from '../helpers/contract.js'
import {prng, seedFromEnv} from '../helpers/random.js'
import type {RawPeer} from '../helpers/raw.js'
import {tryUpgrade, wireConnect} from '../helpers/ws-wire.js'
import {CAPPED_LIMITS, CONNACK_OK, CORPUS, CORPUS_LIMITS, CORPUS_WS, PINGREQ, PINGRESP, WS_FRAME_CASES, WS_HANDSHAKE_CASES} from './bad-input.js'
import type {CorpusCase} from './bad-input.js'

const SEED = seedFromEnv('CORPUS_SEED')

/** FNV-1a of a case id: each case gets its own seed, so a failure can be replayed alone. */
function hash(text: string): number {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}

interface Mode {
  name: string
  scheme: Scheme
  /** Cut everything sent into frames of random sizes (1 byte now and then, up to a few hundred). */
  split?: boolean
}

const MODES: Mode[] = [
  {name: 'TCP', scheme: 'mqtt'},
  {name: 'WebSocket, one packet per frame', scheme: 'ws'},
  {name: 'WebSocket, random frame sizes', scheme: 'ws', split: true},
  {name: 'secure WebSocket', scheme: 'wss'},
]

const hexOf = (b: Buffer): string => b.toString('hex').replace(/(..)/g, '$1 ').trim()

function describeCase(c: CorpusCase): string {
  const answers = c.expect.map((e) => {
    if (e === CONNACK_OK) return 'CONNACK 0'
    if (e.length > 40) return `${e.length / 2} bytes`
    return e.replace(/\s+/g, '')
  })
  return [...answers, c.end === 'close' ? 'close' : 'stays open'].join(', ')
}

/** Reads the next whole packet at `offset` from what the peer received. */
async function readPacket(peer: RawPeer, offset: number): Promise<Buffer> {
  let buf = await peer.waitBytes(offset + 2)
  let len = 0
  let mul = 1
  let i = offset + 1
  for (;;) {
    buf = await peer.waitBytes(i + 1)
    len += (buf[i] & 0x7f) * mul
    mul *= 128
    if ((buf[i++] & 0x80) === 0) break
  }
  buf = await peer.waitBytes(i + len)
  return buf.subarray(offset, i + len)
}

function split(bytes: Buffer, rand: () => number): Buffer[] {
  const out: Buffer[] = []
  for (let off = 0; off < bytes.length; ) {
    const r = rand()
    const n = r < 0.2 ? 1 : r < 0.9 ? 1 + Math.floor(rand() * 40) : 1 + Math.floor(rand() * 4000)
    out.push(bytes.subarray(off, off + n))
    off += n
  }
  return out
}

/** Sends a case and checks the broker's answer, byte for byte. */
async function runCase(tb: TestBroker, mode: Mode, c: CorpusCase): Promise<void> {
  const peer = await rawPeer(tb, mode.scheme)
  try {
    const packets = c.send.map((h) => Buffer.from(h.replace(/\s+/g, ''), 'hex'))
    if (mode.split) {
      const seed = SEED ^ hash(c.id)
      for (const piece of split(Buffer.concat(packets), prng(seed))) peer.send(piece)
    } else {
      for (const p of packets) peer.send(p)
    }
    let offset = 0
    for (const e of c.expect) {
      const where = `after ${offset} bytes (${hexOf(peer.received().subarray(0, 64))}${peer.received().length > 64 ? ' …' : ''})`
      if (e === CONNACK_OK) {
        const p = await readPacket(peer, offset)
        assert.equal(p[0], 0x20, `expected CONNACK ${where}`)
        assert.equal(p[p[1] & 0x80 ? 4 : 3], 0, `CONNACK with reason code 0 expected ${where}: ${hexOf(p)}`)
        offset += p.length
        continue
      }
      const want = Buffer.from(e.replace(/\s+/g, ''), 'hex')
      const got = (await peer.waitBytes(offset + want.length)).subarray(offset, offset + want.length)
      if (!got.equals(want)) assert.fail(`expected ${want.length > 32 ? `${want.length} bytes` : hexOf(want)} ${where}, got ${hexOf(got.subarray(0, 32))}`)
      offset += want.length
    }
    if (c.end === 'close') {
      await within(peer.closed, 5000, 'the broker to close the connection')
      const extra = peer.received().subarray(offset)
      assert.equal(extra.length, 0, `bytes after the expected answer: ${hexOf(extra.subarray(0, 32))}`)
    } else {
      peer.send(Buffer.from(PINGREQ, 'hex'))
      const p = await readPacket(peer, offset)
      assert.equal(p.toString('hex'), PINGRESP, 'the connection stays open and answers PINGREQ')
    }
  } finally {
    peer.close()
  }
}

describe('bad-input corpus', function () {
  let main: TestBroker
  let capped: TestBroker
  const t = new Tracker()
  /** One bystander per broker and transport, subscribed to its topic and to "a/#" (which no case may reach). */
  const bystanders = new Map<string, {c: JsClient; topic: string; n: number}>()

  async function bystander(tb: TestBroker, scheme: Scheme): Promise<{c: JsClient; topic: string; n: number}> {
    const key = `${tb === main ? 'main' : 'capped'} ${scheme}`
    let b = bystanders.get(key)
    if (!b) {
      const c = await openJs(t, tb.urls[scheme], {clientId: uid('bystander'), protocolVersion: 5})
      const topic = uid('alive')
      await c.client.subscribeAsync([topic, 'a/#'], {qos: 1})
      b = {c, topic, n: 0}
      bystanders.set(key, b)
    }
    return b
  }

  /** The broker is up and serves the bystander: its own message comes back, and nothing else does. */
  async function alive(tb: TestBroker, scheme: Scheme): Promise<void> {
    const b = await bystander(tb, scheme)
    const text = `ping ${++b.n}`
    await b.c.client.publishAsync(b.topic, text, {qos: 1})
    const m = await b.c.inbox.one()
    assert.equal(`${m.topic} ${m.payload.toString()}`, `${b.topic} ${text}`, 'the bystander gets exactly its own message')
  }

  before(async function () {
    main = await startBroker({limits: CORPUS_LIMITS, ws: CORPUS_WS})
    capped = await startBroker({limits: CAPPED_LIMITS})
  })
  after(async () => {
    t.closeAll()
    await Promise.all([main?.close(), capped?.close()])
  })

  for (const mode of MODES) {
    describe(`over ${mode.name} (CORPUS_SEED=${SEED})`, function () {
      const slow = new Map<string, Promise<Error | undefined>>()

      before(async () => {
        await Promise.all([bystander(main, mode.scheme), bystander(capped, mode.scheme)])
        // Cases that wait for a broker timer run side by side with the rest.
        for (const c of CORPUS) if (c.slow) slow.set(c.id, settle(runCase(c.capped ? capped : main, mode, c)))
      })
      after(async () => {
        await Promise.all(slow.values())
      })

      for (const c of CORPUS) {
        it(`${c.id}: ${c.title} → ${describeCase(c)}`, async function () {
          const tb = c.capped ? capped : main
          if (c.slow) {
            const error = await slow.get(c.id)
            if (error) throw error
          } else {
            await runCase(tb, mode, c)
          }
          await alive(tb, mode.scheme)
        })
      }

      if (mode.scheme === 'wss' || (mode.scheme === 'ws' && !mode.split)) {
        for (const c of WS_FRAME_CASES) {
          it(`${c.id}: ${c.title} → ${c.closeCode === undefined ? 'reassembled, stays open' : `close ${c.closeCode}`}`, async function () {
            const ws = await wireConnect({port: main.ports[mode.scheme], tls: mode.scheme === 'wss'})
            try {
              ws.sendRaw(Buffer.from(c.frames.join('').replace(/\s+/g, ''), 'hex'))
              if (c.closeCode === undefined) {
                const data = await ws.waitDataBytes(6)
                assert.equal(data.toString('hex'), `20020000${PINGRESP}`, 'CONNACK and PINGRESP')
              } else {
                const closed = await ws.waitClosed()
                assert.equal(closed.code, c.closeCode, `close code (${ws.describe()})`)
              }
            } finally {
              ws.destroy()
            }
            await alive(main, mode.scheme)
          })
        }

        for (const c of WS_HANDSHAKE_CASES) {
          it(`${c.id}: an upgrade with ${c.title} → refused, no 101`, async function () {
            const {response, ws} = await tryUpgrade({port: main.ports[mode.scheme], tls: mode.scheme === 'wss', protocol: c.protocol, headers: c.headers}).catch(
              (error: Error) => ({response: {status: 0, body: Buffer.from(error.message)}, ws: undefined}),
            )
            ws?.destroy()
            assert.notEqual(response.status, 101, 'the upgrade was accepted')
            await alive(main, mode.scheme)
          })
        }
      }
    })
  }
})
