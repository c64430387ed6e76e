/**
 * WsServerStream's direct data path, on a real loopback socket: while the stream flows with
 * nothing buffered its reader's listener is called straight from the socket's data (no
 * Readable push); paused, the data is pushed and buffered, and arrives in order on resume.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import type {AddressInfo} from 'node:net'
import type {Duplex} from 'node:stream'
import {WsServerStream} from '../../../src/core/transport/ws-server-stream.js'
import {Opcode, encodeFrame} from '../../helpers/ws-wire.js'

interface Pair {
  stream: WsServerStream
  client: net.Socket
  server: net.Server
}

async function pair(): Promise<Pair> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1')
  const socket = await accepted
  return {stream: new WsServerStream(socket, {maxPayload: 1 << 20}), client, server}
}

const until = async (what: string, ok: () => boolean): Promise<void> => {
  const deadline = Date.now() + 5000
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('transport/ws-server-stream: the direct data path', () => {
  let p: Pair | undefined
  afterEach(async () => {
    p?.client.destroy()
    p?.stream.destroy()
    await new Promise<void>((resolve) => (p ? p.server.close(() => resolve()) : resolve()))
    p = undefined
  })

  it('calls the listener directly while flowing, buffers while paused, and keeps the order', async () => {
    p = await pair()
    const {stream, client} = p
    const got: Buffer[] = []
    const selves: unknown[] = []
    let pushes = 0
    const push = stream.push.bind(stream)
    stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk !== null) pushes++
      return push(chunk, encoding)
    }
    stream.onDataDirect(function (this: Duplex, data: Buffer) {
      selves.push(this)
      got.push(Buffer.from(data))
    })
    const sent: Buffer[] = []
    const send = (text: string): void => {
      const payload = Buffer.from(text)
      sent.push(payload)
      client.write(encodeFrame(Opcode.Binary, payload))
    }

    send('one')
    send('two')
    await until('the first two frames', () => Buffer.concat(got).length === 6)
    assert.equal(pushes, 0, 'flowing with nothing buffered: no Readable push')
    assert.ok(selves.every((s) => s === stream), 'the listener runs as a method of the stream, like a data listener')

    stream.pause()
    send('three')
    await until('the paused frame to be buffered', () => stream.readableLength === 5)
    assert.equal(Buffer.concat(got).toString(), 'onetwo', 'nothing reaches a paused reader')
    assert.equal(pushes, 1)

    stream.resume()
    send('four')
    await until('all frames', () => Buffer.concat(got).length === 15)
    assert.equal(Buffer.concat(got).toString(), Buffer.concat(sent).toString(), 'in the order sent')
  })
})
