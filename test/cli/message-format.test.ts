/**
 * sub's output, byte for byte: every -F code (with flags, width and precision), @ time
 * codes, \ escapes, binary payloads as hex/base64/raw, -v and plain output (mosquitto_sub's
 * "(null)" for an empty payload), -N, and the ndjson and %j/%J JSON shapes.
 */
import assert from 'node:assert/strict'
import type {IPublishPacket} from 'mqtt-packet'
import {compileFormat, formatMessage, messageJson, messagePrinter, mosquittoJson, payloadText, utf8OrUndefined} from '../../src/cli/message-format.js'
import type {BinaryMode, OutputOptions} from '../../src/cli/message-format.js'
import {ErrorCode, MqttwsError} from '../../src/core/errors.js'

function msg(o: Partial<IPublishPacket> & {payload?: Buffer | string} = {}): IPublishPacket {
  return {cmd: 'publish', topic: 'sensors/room 1', qos: 1, retain: false, dup: false, messageId: 42, ...o, payload: Buffer.from(o.payload ?? 'hello')}
}

const FULL = msg({
  properties: {
    topicAlias: 7,
    contentType: 'text/plain',
    correlationData: Buffer.from('req-1'),
    messageExpiryInterval: 30,
    payloadFormatIndicator: true,
    userProperties: {a: '1', b: ['2', '3']},
    responseTopic: 'replies/1',
    subscriptionIdentifier: 12,
  },
})

/** 2024-01-02 03:04:05.678 UTC: in Asia/Kolkata (+05:30, no DST) 08:34:05. */
const NOW = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))

const F = (format: string, p: IPublishPacket = FULL, binary: BinaryMode = 'hex'): string | Buffer => formatMessage(format, p, binary, NOW)

describe('message-format', function () {
  let tz: string | undefined
  before(() => {
    tz = process.env.TZ
    process.env.TZ = 'Asia/Kolkata'
  })
  after(() => {
    if (tz === undefined) delete process.env.TZ
    else process.env.TZ = tz
  })

  describe('-F message codes', function () {
    const cases: Array<[string, string]> = [
      ['%t', 'sensors/room 1'],
      ['%p', 'hello'],
      ['%q', '1'],
      ['%r', '0'],
      ['%l', '5'],
      ['%m', '42'],
      ['%x', '68656c6c6f'],
      ['%X', '68656C6C6F'],
      ['%A', '7'],
      ['%C', 'text/plain'],
      ['%D', 'req-1'],
      ['%E', '30'],
      ['%F', '1'],
      ['%P', 'a:1 b:2 b:3'],
      ['%R', 'replies/1'],
      ['%S', '12'],
      ['%%', '%'],
      ['[%t] q%q r%r %l bytes: %p', '[sensors/room 1] q1 r0 5 bytes: hello'],
    ]
    for (const [format, expected] of cases) {
      it(`${format} → ${JSON.stringify(expected)}`, function () {
        assert.equal(F(format), expected)
      })
    }

    it('%r is 1 for a retained message; %m is 0 for QoS 0 (as mosquitto_sub)', function () {
      assert.equal(F('%r %m', msg({retain: true, qos: 0, messageId: undefined})), '1 0')
    })

    it('MQTT 5 codes print nothing when the property is absent (blank of the field width)', function () {
      assert.equal(F('<%A|%C|%D|%E|%F|%P|%R|%S>', msg()), '<|||||||>')
      assert.equal(F('<%3S>', msg()), '<   >')
    })

    it('%S with several subscription identifiers prints the first, as mosquitto_sub', function () {
      assert.equal(F('%S', msg({properties: {subscriptionIdentifier: [3, 9]}})), '3')
    })

    it('%F prints 0 for a payload format indicator of 0', function () {
      assert.equal(F('%F', msg({properties: {payloadFormatIndicator: false}})), '0')
    })

    it('%d and %f read an 8-byte double and a 4-byte float (little-endian), 6 decimals by default', function () {
      const d = Buffer.alloc(8)
      d.writeDoubleLE(21.5)
      const f = Buffer.alloc(4)
      f.writeFloatLE(-1.25)
      assert.equal(F('%d', msg({payload: d})), '21.500000')
      assert.equal(F('%.2d', msg({payload: d})), '21.50')
      assert.equal(F('%f', msg({payload: f})), '-1.250000')
      assert.equal(F('%08.3f', msg({payload: f})), '-001.250')
      // A payload of the wrong size prints nothing.
      assert.equal(F('<%d>', msg({payload: 'abc'})), '<>')
    })
  })

  describe('-F flags, width and precision', function () {
    const cases: Array<[string, string]> = [
      ['%10t|', 'sensors/room 1|'],
      ['%20t|', '      sensors/room 1|'],
      ['%-20t|', 'sensors/room 1      |'],
      ['%.7t|', 'sensors|'],
      ['%10.3t|', '       sen|'],
      ['%-10.3t|', 'sen       |'],
      ['%5l|', '    5|'],
      ['%05l|', '00005|'],
      ['%-05l|', '5    |'],
      ['%04m|', '0042|'],
      ['%8p|', '   hello|'],
      ['%-8p|', 'hello   |'],
      // As mosquitto_sub: the width of %p is also its maximum; precision does nothing.
      ['%3p|', 'hel|'],
      ['%.2p|', 'hello|'],
      ['%-4q|%5r|', '1|0|'],
      ['%12x|', '  68656c6c6f|'],
      ['%012X|', '0068656C6C6F|'],
      ['%.2x|', '68 65 6c 6c 6f|'],
      ['%.2:x|', '68:65:6c:6c:6f|'],
      ['%.4,X|', '6865,6C6C,6F|'],
      ['%15C|', '     text/plain|'],
      ['%.4R|', 'repl|'],
    ]
    for (const [format, expected] of cases) {
      it(`${format} → ${JSON.stringify(expected)}`, function () {
        assert.equal(F(format), expected)
      })
    }
  })

  describe('-F time codes (local time, here Asia/Kolkata)', function () {
    const cases: Array<[string, string]> = [
      ['%I', '2024-01-02T08:34:05+0530'],
      ['%U', '1704164645.678000000'],
      ['@Y-@m-@d @H:@M:@S', '2024-01-02 08:34:05'],
      ['@F @T @z', '2024-01-02 08:34:05 +0530'],
      ['@s.@N', '1704164645.678000000'],
      ['@a @A @b @B @e @j @y @I @p @u @w', 'Tue Tuesday Jan January  2 002 24 08 AM 2 2'],
      ['@@%t', '@sensors/room 1'],
      ['%30I|', '      2024-01-02T08:34:05+0530|'],
    ]
    for (const [format, expected] of cases) {
      it(`${format} → ${JSON.stringify(expected)}`, function () {
        assert.equal(F(format), expected)
      })
    }
  })

  describe('-F escapes', function () {
    it('\\\\ \\0 \\a \\e \\n \\r \\t \\v', function () {
      assert.equal(F('%t\\t%p\\n'), 'sensors/room 1\thello\n')
      assert.equal(F('\\\\|\\0|\\a|\\e|\\r|\\v'), '\\|\0|\u0007|\u001b|\r|\u000b')
      assert.equal(F('%t\\0%p'), 'sensors/room 1\0hello')
    })
  })

  describe('-F mistakes are usage errors at start, as mosquitto_sub reports them', function () {
    const bad: Array<[string, RegExp]> = [
      ['%Z', /invalid format specifier '%Z'/],
      ['abc%', /incomplete format specifier '%' at the end/],
      ['%-05', /incomplete format specifier '%-05' at the end/],
      ['%.3:t', /invalid format specifier '%:'/],
      ['\\q', /invalid escape '\\q'/],
      ['abc\\', /incomplete escape/],
      ['@', /incomplete time code/],
      ['@Q', /time code '@Q' is not supported/],
    ]
    for (const [format, message] of bad) {
      it(`${JSON.stringify(format)}`, function () {
        assert.throws(
          () => compileFormat(format, 'hex'),
          (e: MqttwsError) => e instanceof MqttwsError && e.code === ErrorCode.CONFIG && message.test(e.message),
        )
      })
    }
  })

  describe('binary payloads', function () {
    const bin = msg({payload: Buffer.from([0x00, 0x01, 0xfe, 0xff])})

    it('are printed as hex by default, base64 when asked, and raw bytes only when asked', function () {
      assert.equal(F('%p', bin, 'hex'), '0001feff')
      assert.equal(F('%p', bin, 'base64'), 'AAH+/w==')
      const raw = F('<%p>', bin, 'raw')
      assert.ok(Buffer.isBuffer(raw))
      assert.deepEqual(raw, Buffer.from([0x3c, 0x00, 0x01, 0xfe, 0xff, 0x3e]))
    })

    it('%x and %l work on the bytes whatever the mode', function () {
      assert.equal(F('%l %x', bin, 'base64'), '4 0001feff')
    })

    it('text with terminal control characters counts as binary; tab, newline and CR do not', function () {
      assert.equal(utf8OrUndefined(Buffer.from('a\tb\nc\r')), 'a\tb\nc\r')
      assert.equal(utf8OrUndefined(Buffer.from('\u001b[31mred')), undefined)
      assert.equal(utf8OrUndefined(Buffer.from([0xc3, 0x28])), undefined, 'invalid UTF-8')
      assert.equal(utf8OrUndefined(Buffer.from('żółw ✓')), 'żółw ✓')
      assert.equal(payloadText(Buffer.from('\u001b[31m'), 'hex'), '1b5b33316d')
    })

    it('%D correlation data: text as is, binary per the mode', function () {
      const p = msg({properties: {correlationData: Buffer.from([0xff, 0x00])}})
      assert.equal(F('%D', p, 'hex'), 'ff00')
      assert.deepEqual(F('%D', p, 'raw'), Buffer.from([0xff, 0x00]))
    })
  })

  describe('plain, -v and -N output (messagePrinter)', function () {
    const out = (o: Partial<OutputOptions>, p: IPublishPacket): string | Buffer =>
      messagePrinter({format: 'text', verbose: false, eol: true, binary: 'hex', ...o})(p, NOW)

    it('plain: the payload and a newline; -N: no newline', function () {
      assert.equal(out({}, msg()), 'hello\n')
      assert.equal(out({eol: false}, msg()), 'hello')
    })

    it('-v: "topic payload"', function () {
      assert.equal(out({verbose: true}, msg()), 'sensors/room 1 hello\n')
      assert.equal(out({verbose: true, eol: false}, msg()), 'sensors/room 1 hello')
    })

    it('an empty payload: nothing at all plain, "topic (null)" with -v (as mosquitto_sub)', function () {
      assert.equal(out({}, msg({payload: ''})), '')
      assert.equal(out({verbose: true}, msg({payload: ''})), 'sensors/room 1 (null)\n')
      assert.equal(out({verbose: true, eol: false}, msg({payload: ''})), '')
    })

    it('binary: hex, base64, or the raw bytes', function () {
      const bin = msg({payload: Buffer.from([0xde, 0xad, 0xbe, 0xef])})
      assert.equal(out({verbose: true}, bin), 'sensors/room 1 deadbeef\n')
      assert.equal(out({binary: 'base64'}, bin), '3q2+7w==\n')
      assert.deepEqual(out({binary: 'raw', verbose: true}, bin), Buffer.concat([Buffer.from('sensors/room 1 '), Buffer.from([0xde, 0xad, 0xbe, 0xef]), Buffer.from('\n')]))
    })

    it('-F adds the newline unless -N', function () {
      assert.equal(out({template: '%t=%p'}, msg()), 'sensors/room 1=hello\n')
      assert.equal(out({template: '%t=%p', eol: false}, msg()), 'sensors/room 1=hello')
      assert.deepEqual(out({template: '%p', binary: 'raw'}, msg({payload: Buffer.from([0xff])})), Buffer.from([0xff, 0x0a]))
    })

    it('an invalid -F fails when the printer is made, before any connection', function () {
      assert.throws(() => messagePrinter({format: 'text', template: '%Z', verbose: false, eol: true, binary: 'hex'}), /invalid format specifier/)
    })
  })

  describe('--format ndjson', function () {
    it('one object per line: time, topic, payload (utf8), encoding, qos, retain, messageId, properties', function () {
      const line = messagePrinter({format: 'ndjson', verbose: true, eol: false, binary: 'hex'})(FULL, NOW)
      assert.equal(typeof line, 'string')
      assert.ok((line as string).endsWith('}\n'))
      assert.equal((line as string).indexOf('\n'), (line as string).length - 1, 'exactly one line')
      assert.deepEqual(JSON.parse(line as string), {
        time: '2024-01-02T03:04:05.678Z',
        topic: 'sensors/room 1',
        payload: 'hello',
        encoding: 'utf8',
        qos: 1,
        retain: false,
        messageId: 42,
        properties: {
          topicAlias: 7,
          contentType: 'text/plain',
          correlationData: Buffer.from('req-1').toString('base64'),
          messageExpiryInterval: 30,
          payloadFormatIndicator: true,
          userProperties: {a: '1', b: ['2', '3']},
          responseTopic: 'replies/1',
          subscriptionIdentifier: 12,
        },
      })
    })

    it('binary payloads are base64 with encoding "base64"; QoS 0 has no messageId; no properties, no key', function () {
      assert.deepEqual(messageJson(msg({payload: Buffer.from([0xff, 0x00]), qos: 0, retain: true, messageId: undefined}), NOW), {
        time: '2024-01-02T03:04:05.678Z',
        topic: 'sensors/room 1',
        payload: '/wA=',
        encoding: 'base64',
        qos: 0,
        retain: true,
      })
    })

    it('text with control characters stays text in JSON (JSON escapes it)', function () {
      assert.equal(messageJson(msg({payload: 'a\u0001b'}), NOW).encoding, 'utf8')
    })
  })

  describe('%j and %J (mosquitto_sub\'s JSON)', function () {
    it('%j: tst (local, microseconds), topic, qos, retain, payloadlen, mid, properties (mosquitto names), payload', function () {
      assert.deepEqual(JSON.parse(F('%j') as string), {
        tst: '2024-01-02T08:34:05.678000+0530',
        topic: 'sensors/room 1',
        qos: 1,
        retain: false,
        payloadlen: 5,
        mid: 42,
        properties: {
          'payload-format-indicator': 1,
          'message-expiry-interval': 30,
          'content-type': 'text/plain',
          'response-topic': 'replies/1',
          'correlation-data': 'req-1',
          'subscription-identifier': 12,
          'topic-alias': 7,
          'user-properties': [{a: '1'}, {b: '2'}, {b: '3'}],
        },
        payload: 'hello',
      })
    })

    it('%j exact bytes for a plain QoS 0 message (no mid, no properties)', function () {
      assert.equal(
        F('%j', msg({qos: 0, messageId: undefined, payload: 'say "hi"'})),
        '{"tst":"2024-01-02T08:34:05.678000+0530","topic":"sensors/room 1","qos":0,"retain":false,"payloadlen":8,"payload":"say \\"hi\\""}',
      )
    })

    it('%J puts a JSON payload in as JSON; other payloads stay quoted', function () {
      const p = msg({qos: 0, payload: ' {"temp": 21.5} '})
      assert.equal(F('%J', p), '{"tst":"2024-01-02T08:34:05.678000+0530","topic":"sensors/room 1","qos":0,"retain":false,"payloadlen":16,"payload":{"temp": 21.5}}')
      assert.deepEqual(JSON.parse(F('%J', msg({qos: 0, payload: 'not json'})) as string).payload, 'not json')
      assert.deepEqual(JSON.parse(F('%J', msg({qos: 0, payload: ''})) as string).payload, '')
    })

    it('binary payloads are base64 there too, marked with encoding', function () {
      const j = JSON.parse(mosquittoJson(msg({payload: Buffer.from([0xff])}), NOW, true))
      assert.equal(j.payload, '/w==')
      assert.equal(j.encoding, 'base64')
      assert.equal(j.payloadlen, 1)
    })
  })

  it('a compiled format renders many messages, and the time is taken per message', function () {
    const render = compileFormat('%t %p @S', 'hex')
    assert.equal(render(msg({topic: 'a', payload: '1'}), new Date(Date.UTC(2024, 0, 1, 0, 0, 1))), 'a 1 01')
    assert.equal(render(msg({topic: 'b', payload: '2'}), new Date(Date.UTC(2024, 0, 1, 0, 0, 2))), 'b 2 02')
  })
})
