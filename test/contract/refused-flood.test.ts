/**
 * Reliability.md row 2 as a fault test: a client declares a huge packet (or a huge WebSocket
 * frame) and then keeps sending, 100 MB of zeros. The broker refuses it from the header
 * (WebSocket: close 1009, or its close after the refused first packet), and then must not go
 * on reading what follows: what it reads after the refusal stays bounded, the client cannot
 * push the 100 MB, and the socket is destroyed. Outcomes only, no timing.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import type {Scheme} from '../../src/core/config.js'
import type {TestBroker} from '../helpers/broker.js'
import {Tracker, openJs, uid, withBroker, within} from '../helpers/contract.js'
import {upgradeRequest} from '../helpers/ws-wire.js'

const TOTAL = 100 * 1024 * 1024
const CHUNK = 1024 * 1024
/** What the broker may read after refusing: its drop allowance (64 KiB) plus what was in flight; without the limit it reads on until its close timer. */
const READ_BOUND = 1024 * 1024

/** A PUBLISH header declaring 244 MB as the first packet (refused at its first byte: not CONNECT). */
const HUGE_PUBLISH = Buffer.from('3080808074', 'hex')

/** A masked binary frame header (mask key 0, so the payload goes as is) for `length` payload bytes. */
function frameHeader(length: number): Buffer {
  if (length < 126) return Buffer.from([0x82, 0x80 | length, 0, 0, 0, 0])
  if (length < 0x10000) return Buffer.from([0x82, 0xfe, length >> 8, length & 0xff, 0, 0, 0, 0])
  const b = Buffer.alloc(14)
  b[0] = 0x82
  b[1] = 0xff
  b.writeBigUInt64BE(BigInt(length), 2)
  return b
}

/**
 * Writes `first`, then `chunk` again and again up to TOTAL bytes, waiting for 'drain' when
 * the socket is full; stops when the socket closes. Returns the bytes handed to the socket.
 */
async function flood(socket: net.Socket, first: Buffer, chunk: Buffer): Promise<number> {
  let closed = socket.destroyed
  const onClose = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  void onClose.then(() => (closed = true))
  let sent = 0
  socket.write(first)
  sent += first.length
  for (let i = 0; i < TOTAL / chunk.length && !closed; i++) {
    if (socket.write(chunk)) {
      sent += chunk.length
      continue
    }
    sent += chunk.length
    await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), onClose])
  }
  await onClose
  return sent
}

/**
 * A WebSocket upgraded by hand that then ignores whatever the broker sends (its close frame
 * too): a client that wants to keep writing.
 */
async function deafWebSocket(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(upgradeRequest({}))
  let head = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      head += d.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`upgrade refused: ${head}`))
      else resolve()
    }
    socket.on('data', onData)
  })
  socket.resume()
  return socket
}

function bytesIn(tb: TestBroker, scheme: Scheme): number {
  for (const m of tb.broker.listenerTable.values()) if (m.config.scheme === scheme) return tb.broker.listenerStatus(m.config.id).bytes.in
  throw new Error(`no ${scheme} listener`)
}

/** Waits (bounded) until the broker has no connection left open. */
async function allClosed(tb: TestBroker): Promise<void> {
  for (let i = 0; i < 500 && tb.broker.connections.size > 0; i++) await new Promise((r) => setTimeout(r, 10))
  assert.equal(tb.broker.connections.size, 0, 'the refused connection is gone')
}

describe('row 2: a refused client cannot make the broker read on', function () {
  this.timeout(60_000)
  const t = new Tracker()
  afterEach(() => t.closeAll())

  const cases: Array<{name: string; scheme: Scheme; open: (tb: TestBroker) => Promise<{socket: net.Socket; first: Buffer; chunk: Buffer}>}> = [
    {
      name: 'TCP: 30 80 80 80 74, then 100 MB of zeros',
      scheme: 'mqtt',
      open: async (tb) => {
        const socket = net.connect(tb.ports.mqtt, '127.0.0.1')
        await new Promise((resolve) => socket.once('connect', resolve))
        return {socket, first: HUGE_PUBLISH, chunk: Buffer.alloc(CHUNK)}
      },
    },
    {
      name: 'WebSocket: one frame declaring 100 MB (close 1009), carrying 30 80 80 80 74 and zeros',
      scheme: 'ws',
      open: async (tb) => {
        return {socket: await deafWebSocket(tb.ports.ws), first: Buffer.concat([frameHeader(TOTAL + HUGE_PUBLISH.length), HUGE_PUBLISH]), chunk: Buffer.alloc(CHUNK)}
      },
    },
    {
      name: 'WebSocket: frames of 64 KiB (each under the maximum payload), the first starting 30 80 80 80 74',
      scheme: 'ws',
      open: async (tb) => {
        const socket = await deafWebSocket(tb.ports.ws)
        const size = 64 * 1024
        const frames = Buffer.concat(Array.from({length: CHUNK / size}, () => Buffer.concat([frameHeader(size), Buffer.alloc(size)])))
        return {socket, first: Buffer.concat([frameHeader(HUGE_PUBLISH.length), HUGE_PUBLISH]), chunk: frames}
      },
    },
  ]

  for (const c of cases) {
    it(`${c.name}: the broker stops reading and destroys the socket`, async function () {
      await withBroker(t, {}, async (tb) => {
        const before = bytesIn(tb, c.scheme)
        const {socket, first, chunk} = await c.open(tb)
        socket.on('error', () => {})
        const sent = await within(flood(socket, first, chunk), 50_000, 'the broker to close the socket')
        assert.ok(sent < TOTAL, `the client pushed all ${sent} bytes`)
        await allClosed(tb)
        const read = bytesIn(tb, c.scheme) - before
        assert.ok(read < READ_BOUND, `the broker read ${read} bytes of the flood`)
        if (process.env.FLOOD_DEBUG) console.log(`sent ${sent}, read ${read}`)
        // And it still serves.
        await openJs(t, tb.urls[c.scheme], {clientId: uid(), protocolVersion: 5})
      })
    })
  }
})
