/**
 * The pure WebSocket framing (src/core/transport/ws-frame.ts) and handshake helpers
 * (ws-handshake.ts) on bytes alone: RFC 6455 §5.7's hex examples, 7/16/64-bit lengths,
 * headers split across reads, masking (in place, moved, split at any payload index) and
 * close frames.
 */
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {
  CloseCode,
  WORD_MASK_MIN,
  HeaderReader,
  Opcode,
  closePayload,
  frame,
  headerSize,
  headerSizeOf,
  mask,
  maskWord,
  maskedFrame,
  maskedHeaderSize,
  newFrameHeader,
  parseClose,
  readHeader,
  validCloseCode,
  writeHeader,
  writeMaskedHeader,
} from '../../../src/core/transport/ws-frame.js'
import type {FrameHeader} from '../../../src/core/transport/ws-frame.js'
import {acceptKey, readResponseHead, upgradeRequest, upgradeResponse} from '../../../src/core/transport/ws-handshake.js'

const hex = (s: string): Buffer => Buffer.from(s.replaceAll(' ', ''), 'hex')

/** The byte-by-byte definition of masking (RFC 6455 §5.3), to check the 4-at-a-time one against. */
function referenceMask(data: Buffer, keyBytes: Buffer, pos = 0): Buffer {
  const out = Buffer.from(data)
  for (let i = 0; i < out.length; i++) out[i] ^= keyBytes[(pos + i) & 3]
  return out
}

function parsed(buf: Buffer): FrameHeader {
  const h = newFrameHeader()
  readHeader(buf, 0, h)
  return {...h}
}

describe('ws-frame', () => {
  describe('RFC 6455 §5.7 examples', () => {
    it('an unmasked text frame "Hello": 81 05 48656c6c6f', () => {
      const f = frame(Opcode.Text, Buffer.from('Hello'))
      assert.deepEqual(f, hex('81 05 48656c6c6f'))
      assert.deepEqual(parsed(f), {fin: true, rsv: 0, opcode: Opcode.Text, masked: false, length: 5, key: 0, size: 2})
    })

    it('a masked text frame "Hello": 81 85 37fa213d 7f9f4d5158', () => {
      const f = maskedFrame(Opcode.Text, Buffer.from('Hello'), 0x37fa213d)
      assert.deepEqual(f, hex('81 85 37fa213d 7f9f4d5158'))
      assert.deepEqual(parsed(f), {fin: true, rsv: 0, opcode: Opcode.Text, masked: true, length: 5, key: 0x37fa213d, size: 6})
      const payload = Buffer.from(f.subarray(6))
      mask(payload, 0, payload.length, 0, 0x37fa213d, 0)
      assert.equal(payload.toString(), 'Hello')
    })

    it('a fragmented unmasked text message: 01 03 48656c, then 80 02 6c6f', () => {
      const first = parsed(hex('01 03 48656c'))
      const last = parsed(hex('80 02 6c6f'))
      assert.equal(first.fin, false)
      assert.equal(first.opcode, Opcode.Text)
      assert.equal(last.fin, true)
      assert.equal(last.opcode, Opcode.Continuation)
      assert.equal(last.length, 2)
    })

    it('unmasked ping and masked pong with "Hello"', () => {
      assert.deepEqual(frame(Opcode.Ping, Buffer.from('Hello')), hex('89 05 48656c6c6f'))
      assert.deepEqual(maskedFrame(Opcode.Pong, Buffer.from('Hello'), 0x37fa213d), hex('8a 85 37fa213d 7f9f4d5158'))
    })

    it('256 bytes in one unmasked binary frame: 82 7e 0100', () => {
      const f = frame(Opcode.Binary, Buffer.alloc(256, 1))
      assert.deepEqual(f.subarray(0, 4), hex('82 7e 0100'))
      assert.equal(f.length, 4 + 256)
      assert.equal(parsed(f).length, 256)
    })

    it('64 KiB in one unmasked binary frame: 82 7f 0000000000010000', () => {
      const f = frame(Opcode.Binary, Buffer.alloc(65536, 2))
      assert.deepEqual(f.subarray(0, 10), hex('82 7f 0000000000010000'))
      assert.equal(parsed(f).length, 65536)
      assert.equal(parsed(f).size, 10)
    })
  })

  describe('lengths in 7, 16 and 64 bits', () => {
    const cases: Array<[number, number]> = [
      [0, 2],
      [125, 2],
      [126, 4],
      [65535, 4],
      [65536, 10],
      [2 ** 32 + 5, 10],
    ]
    for (const [length, size] of cases) {
      it(`${length} bytes: a ${size}-byte header (${size + 4} masked), written and read back`, () => {
        assert.equal(headerSize(length), size)
        assert.equal(maskedHeaderSize(length), size + 4)
        const buf = Buffer.alloc(16, 0xee)
        assert.equal(writeHeader(buf, 1, Opcode.Binary, length), 1 + size)
        assert.equal(headerSizeOf(buf[2]), size)
        const h = newFrameHeader()
        readHeader(buf, 1, h)
        assert.deepEqual({...h}, {fin: true, rsv: 0, opcode: Opcode.Binary, masked: false, length, key: 0, size})
        assert.equal(writeMaskedHeader(buf, 0, Opcode.Binary, length, 0xa1b2c3d4), size + 4)
        assert.equal(headerSizeOf(buf[1]), size + 4)
        readHeader(buf, 0, h)
        assert.deepEqual({...h}, {fin: true, rsv: 0, opcode: Opcode.Binary, masked: true, length, key: 0xa1b2c3d4, size: size + 4})
      })
    }

    it('reads the RSV bits and a missing FIN', () => {
      assert.deepEqual(parsed(hex('72 00')), {fin: false, rsv: 7, opcode: Opcode.Binary, masked: false, length: 0, key: 0, size: 2})
    })
  })

  describe('HeaderReader', () => {
    // Masked headers of 6, 8 and 14 bytes, each followed by its payload.
    const key = 0x01020304
    const payloads = [Buffer.from('abc'), Buffer.alloc(300, 9), Buffer.alloc(70000, 5), Buffer.alloc(0)]
    const wire = Buffer.concat(payloads.map((p) => maskedFrame(Opcode.Binary, p, key)))

    /** Splits wire at the given cuts and parses it: [length, unmasked payload] per frame. */
    function parseAll(chunks: Buffer[]): Array<[number, Buffer]> {
      const reader = new HeaderReader()
      const out: Array<[number, Buffer]> = []
      let remaining = 0
      let pos = 0
      let parts: Buffer[] = []
      for (const chunk of chunks) {
        let off = 0
        while (off < chunk.length) {
          if (remaining > 0) {
            const take = Math.min(remaining, chunk.length - off)
            const part = Buffer.from(chunk.subarray(off, off + take))
            mask(part, 0, take, 0, reader.header.key, pos)
            parts.push(part)
            pos += take
            off += take
            remaining -= take
            if (remaining === 0) out.push([reader.header.length, Buffer.concat(parts)])
            continue
          }
          const next = reader.read(chunk, off, chunk.length)
          if (next === -1) break
          off = next
          remaining = reader.header.length
          pos = 0
          parts = []
          if (remaining === 0) out.push([0, Buffer.alloc(0)])
        }
      }
      return out
    }

    const expected = payloads.map((p): [number, Buffer] => [p.length, p])

    it('reads every header whole from one chunk', () => {
      assert.deepEqual(parseAll([wire]), expected)
    })

    it('reads headers split at every byte of the first 320 bytes and around the 64-bit header', () => {
      const second = 6 + 3 + 8 + 300 // where the 64-bit-length frame starts
      const cuts = [...Array.from({length: 320}, (_, i) => i + 1), ...Array.from({length: 16}, (_, i) => second + i)]
      for (const cut of cuts) {
        assert.deepEqual(parseAll([wire.subarray(0, cut), wire.subarray(cut)]), expected, `cut at ${cut}`)
      }
    })

    it('reads headers fed one byte at a time', () => {
      const small = Buffer.concat([maskedFrame(Opcode.Binary, Buffer.from('xy'), key), maskedFrame(Opcode.Binary, Buffer.alloc(200, 1), key)])
      const got = parseAll([...small].map((b) => Buffer.from([b])))
      assert.deepEqual(got, [
        [2, Buffer.from('xy')],
        [200, Buffer.alloc(200, 1)],
      ])
    })

    it('reports a partial header, and reset() drops it', () => {
      const reader = new HeaderReader()
      assert.equal(reader.read(hex('82'), 0, 1), -1)
      assert.equal(reader.partial, 1)
      reader.reset()
      assert.equal(reader.partial, 0)
      assert.equal(reader.read(hex('82 02 6869'), 0, 4), 2)
      assert.equal(reader.header.length, 2)
    })
  })

  describe('masking', () => {
    const keyBytes = hex('a1b2c3d4')
    const key = keyBytes.readUInt32BE(0)

    it('matches the byte-by-byte definition for every length 0..40 and every start index', () => {
      for (let length = 0; length <= 40; length++) {
        const data = randomBytes(length)
        for (let pos = 0; pos < 8; pos++) {
          const buf = Buffer.from(data)
          mask(buf, 0, length, 0, key, pos)
          assert.deepEqual(buf, referenceMask(data, keyBytes, pos), `length ${length}, pos ${pos}`)
        }
      }
    })

    it('the word path (WORD_MASK_MIN bytes and more) matches the definition at every alignment, key position and move', () => {
      const backing = Buffer.alloc(8192)
      for (const length of [WORD_MASK_MIN, WORD_MASK_MIN + 1, WORD_MASK_MIN + 3, 1024, 4099]) {
        const data = randomBytes(length)
        for (let offset = 0; offset < 4; offset++) {
          // A view that starts off a 4-byte boundary, as socket chunks do.
          const buf = backing.subarray(offset, offset + length + 20)
          for (let pos = 0; pos < 4; pos++) {
            for (const shift of [0, 1, 2, 7, 14]) {
              data.copy(buf, 14)
              mask(buf, 14, 14 + length, 14 - shift, key, pos)
              assert.deepEqual(buf.subarray(14 - shift, 14 - shift + length), referenceMask(data, keyBytes, pos), `length ${length}, offset ${offset}, pos ${pos}, shift ${shift}`)
            }
          }
        }
      }
    })

    it('round-trips: masking twice gives the data back', () => {
      const data = randomBytes(1001)
      const buf = Buffer.from(data)
      mask(buf, 0, buf.length, 0, key, 3)
      assert.notDeepEqual(buf, data)
      mask(buf, 0, buf.length, 0, key, 3)
      assert.deepEqual(buf, data)
    })

    it('masking in pieces, each starting at its payload index, equals masking at once', () => {
      const data = randomBytes(97)
      const whole = referenceMask(data, keyBytes)
      for (const cut of [1, 2, 3, 4, 5, 50, 96]) {
        const buf = Buffer.from(data)
        mask(buf, 0, cut, 0, key, 0)
        mask(buf, cut, buf.length, cut, key, cut)
        assert.deepEqual(buf, whole, `cut at ${cut}`)
      }
    })

    it('moves while it unmasks (to < from), as the broker drops headers in place', () => {
      const payload = randomBytes(37)
      const buf = Buffer.concat([Buffer.alloc(7, 0xff), referenceMask(payload, keyBytes)])
      mask(buf, 7, buf.length, 1, key, 0)
      assert.deepEqual(buf.subarray(1, 38), payload)
      assert.equal(buf[0], 0xff)
    })

    it('touches nothing outside [from, end)', () => {
      const buf = Buffer.alloc(12, 0)
      mask(buf, 3, 8, 3, key, 0)
      assert.deepEqual(buf, hex('000000 a1b2c3d4a1 00000000'))
    })

    it('maskWord() gives the key bytes that apply from a payload index', () => {
      assert.equal(maskWord(key, 0), 0xa1b2c3d4)
      assert.equal(maskWord(key, 1), 0xb2c3d4a1)
      assert.equal(maskWord(key, 2), 0xc3d4a1b2)
      assert.equal(maskWord(key, 7), 0xd4a1b2c3)
    })
  })

  describe('close frames', () => {
    it('builds code + reason: 03e8 627965', () => {
      assert.deepEqual(closePayload(1000, 'bye'), hex('03e8 627965'))
      assert.deepEqual(frame(Opcode.Close, closePayload(1009)), hex('88 02 03f1'))
    })

    it('cuts a long reason to fit 125 bytes, keeping it valid UTF-8', () => {
      const body = closePayload(1000, 'é'.repeat(100))
      assert.ok(body.length <= 125)
      const back = parseClose(body)
      assert.ok(back.ok)
      assert.equal(back.reason, 'é'.repeat(61))
    })

    it('parses code and reason; no payload means 1005', () => {
      assert.deepEqual(parseClose(hex('03e8 627965')), {ok: true, code: 1000, reason: 'bye'})
      assert.deepEqual(parseClose(Buffer.alloc(0)), {ok: true, code: CloseCode.NoStatus, reason: ''})
    })

    it('refuses a 1-byte payload, a code not allowed on the wire and a reason not UTF-8', () => {
      assert.deepEqual(parseClose(hex('03')), {ok: false, code: 1002, error: 'a close frame with a 1-byte payload'})
      assert.deepEqual(parseClose(hex('03ed')), {ok: false, code: 1002, error: 'invalid close code 1005'})
      assert.deepEqual(parseClose(hex('03e8 c328')), {ok: false, code: 1007, error: 'the close reason is not valid UTF-8'})
    })

    it('knows the valid codes', () => {
      for (const c of [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999]) assert.ok(validCloseCode(c), String(c))
      for (const c of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) assert.ok(!validCloseCode(c), String(c))
    })
  })

  describe('handshake', () => {
    it('computes RFC 6455 §1.3\'s accept key', () => {
      assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
    })

    it('answers 101 with the accept key, and the subprotocol when one was chosen', () => {
      const res = upgradeResponse('dGhlIHNhbXBsZSBub25jZQ==', 'mqtt')
      const head = readResponseHead(Buffer.from(`${res}rest`))
      assert.ok(head)
      assert.equal(head.status, 101)
      assert.equal(head.headers.get('sec-websocket-accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
      assert.equal(head.headers.get('sec-websocket-protocol'), 'mqtt')
      assert.equal(Buffer.from(`${res}rest`).subarray(head.end).toString(), 'rest')
      assert.ok(!upgradeResponse('dGhlIHNhbXBsZSBub25jZQ==', null).includes('Sec-WebSocket-Protocol'))
    })

    it('builds a client request, and tells an unfinished or non-HTTP response', () => {
      const req = upgradeRequest('/mqtt?x=1', 'h:1', 'k', ['mqtt'])
      assert.match(req, /^GET \/mqtt\?x=1 HTTP\/1\.1\r\nHost: h:1\r\n/)
      assert.match(req, /\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n$/)
      assert.equal(readResponseHead(Buffer.from('HTTP/1.1 101 Switching')), undefined)
      assert.equal(readResponseHead(Buffer.from('\x10\x02\x00\x00\r\n\r\n')), null)
    })
  })
})
