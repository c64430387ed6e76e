/**
 * The bad-input corpus: what a client sends (hex) and what the broker must answer
 * (exact hex packets), then whether it closes the connection or keeps it open. In the
 * style of Mosquitto's test/broker/data/*.json, with vectors of our own.
 *
 * Every row of the bad-input catalogue in reliability.md (b) that applies to the broker
 * is here as R<row><letter>, every normative statement of reliability.md (a) not already
 * covered by a row as N-<statement>; the WebSocket frame rows (51–58) are in WS_FRAME_CASES.
 * Rows 59–64 (JWT, ACL) belong to the security issue. bad-input.test.ts runs all of it
 * over TCP, WebSocket (one packet per frame, and random frame sizes) and secure WebSocket.
 *
 * MQTT 5 CONNECTs here set Request Problem Information 0, so that the broker sends no
 * Reason String and every answer is exact bytes. The corpus broker runs with
 * CORPUS_LIMITS; rows 37 (QoS and retain caps) use CAPPED_LIMITS.
 *
 * Where our answer differs from the catalogue's "Expected" column, the spec decides and
 * the row's `note` says why. Row 25's "$CONTROL/x" and other "$" topics are refused like a
 * topic the authorizer refuses (limits.allowReservedTopics); row 58's Origin check runs on a
 * corpus broker with an allowed-origin list (CORPUS_WS).
 */

// ---- building blocks ------------------------------------------------------------------------

function clean(hex: string): string {
  return hex.replace(/\s+/g, '').toLowerCase()
}

function varint(n: number): string {
  let out = ''
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n > 0) b |= 0x80
    out += b.toString(16).padStart(2, '0')
  } while (n > 0)
  return out
}

const byte = (n: number): string => n.toString(16).padStart(2, '0')
const u16 = (n: number): string => n.toString(16).padStart(4, '0')

/** A packet from its first byte and body: the Remaining Length is computed. */
export function pkt(first: number, body: string): string {
  const b = clean(body)
  return byte(first) + varint(b.length / 2) + b
}

/** A UTF-8 string field: two-byte length, then the bytes (given as text or as hex with `hex:`). */
function str(s: string): string {
  const hex = s.startsWith('hex:') ? clean(s.slice(4)) : Buffer.from(s).toString('hex')
  return u16(hex.length / 2) + hex
}

/** An MQTT 5 property list: its length, then the properties (hex). */
function props(hex = ''): string {
  const b = clean(hex)
  return varint(b.length / 2) + b
}

/** CONNECT: level 4 or 5, connect flags, keepalive, v5 properties, then the payload fields (hex). */
function connect(level: 3 | 4 | 5, flags: number, keepalive: number, payload: string, properties = '17 00'): string {
  const name = level === 3 ? str('MQIsdp') : str('MQTT')
  return pkt(0x10, name + byte(level) + byte(flags) + u16(keepalive) + (level === 5 ? props(properties) : '') + clean(payload))
}

/** The connecting client's id. */
const ID = str('p')
/** CONNECT 3.1.1, clean session, keepalive 10, client id "p" (reliability.md's C4). */
export const C4 = connect(4, 0x02, 10, ID)
/** CONNECT 5, clean start, keepalive 10, Request Problem Information 0, client id "p". */
export const C5 = connect(5, 0x02, 10, ID)
export const CONNACK4 = '20020000'
/** Stands for any CONNACK 5 with reason code 0 (its properties follow the broker's limits). */
export const CONNACK_OK = 'CONNACK_OK'
export const PINGREQ = 'c000'
export const PINGRESP = 'd000'

const disconnect = (code: number): string => `e002${byte(code)}00`
const connack5 = (code: number): string => `200300${byte(code)}00`
const TOPIC = str('topic')
const PAYLOAD = Buffer.from('payload').toString('hex')

/** PUBLISH with flags (DUP, QoS, retain in the low nibble), topic field, optional packet id, v5 properties. */
function publish(version: 4 | 5, flags: number, topicField: string, id: number | undefined, properties = ''): string {
  return pkt(0x30 | flags, topicField + (id === undefined ? '' : u16(id)) + (version === 5 ? props(properties) : '') + PAYLOAD)
}

function subscribe(version: 4 | 5, id: number, entries: Array<[string, number]>, first = 0x82): string {
  return pkt(first, u16(id) + (version === 5 ? props() : '') + entries.map(([f, o]) => str(f) + byte(o)).join(''))
}

function unsubscribe(version: 4 | 5, id: number, filters: string[]): string {
  return pkt(0xa2, u16(id) + (version === 5 ? props() : '') + filters.map(str).join(''))
}

function suback(version: 4 | 5, id: number, codes: number[]): string {
  return pkt(0x90, u16(id) + (version === 5 ? '00' : '') + codes.map(byte).join(''))
}

function unsuback(version: 4 | 5, id: number, codes: number[]): string {
  return version === 5 ? pkt(0xb0, u16(id) + '00' + codes.map(byte).join('')) : pkt(0xb0, u16(id))
}

// ---- the corpus --------------------------------------------------------------------------------

export interface CorpusCase {
  /** R<row> for a catalogue row (with a letter per variant), N-<id> for a normative statement. */
  id: string
  title: string
  /** Packets sent, in hex: one write each over TCP, one frame each over WebSocket. */
  send: string[]
  /** What the broker sends, in order: exact packets in hex, or CONNACK_OK. */
  expect: string[]
  /** 'close': the broker then closes the connection and sends nothing more; 'open': it answers a PINGREQ. */
  end: 'close' | 'open'
  /** Runs on the broker with CAPPED_LIMITS. */
  capped?: boolean
  /** Waits for a broker timer (keepalive, connect timeout): started ahead, in parallel with the others. */
  slow?: boolean
  /** Where we answer differently from the catalogue's "Expected" column, and why. */
  note?: string
}

/** Limits of the corpus broker (besides the defaults): row 38 wants 20, row 41 wants 100, row 34 a short timeout. */
export const CORPUS_LIMITS = {receiveMaximum: 20, maxTopicLevels: 100, connectTimeoutMs: 500}
/** Limits of the broker for row 37. */
export const CAPPED_LIMITS = {maxQos: 1 as const, retainAvailable: false}

/** A case for both protocol versions: the v5 variant gets its own id suffix. */
function both(id: string, title: string, v4: Omit<CorpusCase, 'id' | 'title'>, v5: Omit<CorpusCase, 'id' | 'title'>): CorpusCase[] {
  return [
    {id: `${id} v3.1.1`, title, ...v4},
    {id: `${id} v5`, title, ...v5},
  ]
}

/** After CONNECT: v3.1.1 closes; v5 gets DISCONNECT with `code` first. */
function violation(id: string, title: string, p4: string, p5: string, code: number, note?: string): CorpusCase[] {
  return both(
    id,
    title,
    {send: [C4, p4], expect: [CONNACK4], end: 'close', note},
    {send: [C5, p5], expect: [CONNACK_OK, disconnect(code)], end: 'close', note},
  )
}

const MALFORMED = 0x81
const PROTOCOL = 0x82

/**
 * Row 50: the client subscribes to "topic" at `qos` and publishes to it (packet id 2), so the
 * broker sends it that message (packet id 1) and acknowledges its own; then the client answers
 * packet id 1 with `ack`, an acknowledgement of the wrong kind or out of turn.
 */
function wrongAck(id: string, title: string, qos: 1 | 2, ack: string): CorpusCase[] {
  const flags = qos << 1
  const own = qos === 1 ? '40 02 0002' : '50 02 0002'
  const run = (version: 4 | 5): Omit<CorpusCase, 'id' | 'title'> => ({
    send: [version === 4 ? C4 : C5, subscribe(version, 1, [['topic', qos]]), publish(version, flags, TOPIC, 2), ack],
    expect: [
      version === 4 ? CONNACK4 : CONNACK_OK,
      suback(version, 1, [qos]),
      publish(version, flags, TOPIC, 1),
      own,
      ...(version === 5 ? [disconnect(PROTOCOL)] : []),
    ],
    end: 'close',
  })
  return both(id, title, run(4), run(5))
}

const manyUserProperties = (n: number): string => '26 0000 0000'.repeat(n)
/** Binary data of n zero bytes, with its two-byte length. */
const bin = (n: number): string => u16(n) + '00'.repeat(n)
const levels = (n: number): string => Array.from({length: n}, () => 'a').join('/')

export const CORPUS: CorpusCase[] = [
  // -- before and at CONNECT
  {id: 'R1', title: 'PUBLISH as the first packet', send: ['30 0e 0005 746f706963 7061796c6f6164'], expect: [], end: 'close'},
  {id: 'R2', title: 'a PUBLISH header declaring 243 MB before CONNECT (closed at its first byte)', send: ['30 80 80 80 74'], expect: [], end: 'close'},
  {id: 'R3a', title: 'reserved packet type 0 as the first packet', send: ['00 00'], expect: [], end: 'close'},
  {id: 'R3b', title: 'packet type 15 as the first packet', send: ['f0 00'], expect: [], end: 'close'},
  ...violation('R3c', 'reserved packet type 0 after CONNECT', '00 00', '00 00', MALFORMED),
  {id: 'R3d v3.1.1', title: 'AUTH (type 15), which 3.1.1 does not have, after CONNECT', send: [C4, 'f0 00'], expect: [CONNACK4], end: 'close'},
  {id: 'R4a', title: 'a CONNECT with a 5-byte Remaining Length', send: ['10 ff ff ff ff 7f'], expect: [], end: 'close'},
  {id: 'R4b', title: 'a 6-byte Remaining Length before CONNECT', send: ['30 80 80 80 80 80 80'], expect: [], end: 'close'},
  ...violation('R4c', 'a 5-byte Remaining Length after CONNECT', '30 80 80 80 80 80', '30 80 80 80 80 80', MALFORMED),
  {id: 'R5', title: 'an empty CONNECT', send: ['10 00'], expect: [], end: 'close'},
  {id: 'R6', title: 'a TLS ClientHello on the plain port', send: ['16 03 01 01 01 01 00 00 fd 03 03' + ' 5a'.repeat(32)], expect: [], end: 'close'},
  {id: 'R7', title: 'HTTP on the MQTT port', send: [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n').toString('hex')], expect: [], end: 'close'},
  ...both(
    'R8',
    'a second CONNECT',
    {send: [C4, C4], expect: [CONNACK4], end: 'close'},
    {send: [C5, C5], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  ),
  {id: 'R9', title: 'protocol name "MQTU"', send: ['10 0d 0004 4d515455 04 02 000a 0001 70'], expect: [], end: 'close'},
  {id: 'R10', title: 'protocol level 6', send: ['10 0d 0004 4d515454 06 00 000a 0001 70'], expect: ['20 02 00 01'], end: 'close'},
  {id: 'R11', title: 'the reserved CONNECT flag set', send: ['10 0d 0004 4d515454 04 01 000a 0001 70'], expect: [], end: 'close'},
  {id: 'R12', title: 'Will QoS 3', send: ['10 13 0004 4d515454 04 1e 000a 0001 70 0001 70 0001 70'], expect: [], end: 'close'},
  {id: 'R13', title: 'Will QoS without the Will flag', send: ['10 0d 0004 4d515454 04 0a 000a 0001 70'], expect: [], end: 'close'},
  {id: 'R14', title: 'the user name flag without a user name', send: ['10 0d 0004 4d515454 04 82 000a 0001 70'], expect: [], end: 'close'},
  {id: 'R15', title: 'a truncated CONNECT that claims user and password', send: ['10 07 0004 4d515454 04 c2 003c 000b'], expect: [], end: 'close'},
  {id: 'R16a v3.1.1', title: 'a client id with U+0000', send: ['10 11 0004 4d515454 04 02 000a 0005 746f700000'], expect: [], end: 'close'},
  {id: 'R16b v3.1.1', title: 'a client id with an encoded surrogate', send: ['10 11 0004 4d515454 04 02 000a 0005 746feda080'], expect: [], end: 'close'},
  {id: 'R16c v5', title: 'a client id with U+0000', send: [connect(5, 0x02, 10, str('hex:746f700000'))], expect: [connack5(MALFORMED)], end: 'close'},
  {id: 'R16d v5', title: 'a client id with an encoded surrogate', send: [connect(5, 0x02, 10, str('hex:746feda080'))], expect: [connack5(MALFORMED)], end: 'close'},
  ...['01', '1f', '7f', 'c29f'].map(
    (c): CorpusCase => ({id: `R17-${c} v3.1.1`, title: `a client id with control character ${c}`, send: [connect(4, 0x02, 10, str(`hex:746f70${c}70`))], expect: ['20 02 00 02'], end: 'close'}),
  ),
  {id: 'R17-01 v5', title: 'a client id with control character 01', send: [connect(5, 0x02, 10, str('hex:746f700170'))], expect: [connack5(0x85)], end: 'close'},
  {id: 'R18', title: 'an empty client id with clean session 0', send: ['10 0c 0004 4d515454 04 00 000a 0000'], expect: ['20 02 00 02'], end: 'close'},
  {id: 'R19', title: 'Session Expiry Interval twice', send: ['10 18 0004 4d515454 05 02 000a 0a 1100000001 1100000001 0001 70'], expect: ['20 03 00 82 00'], end: 'close'},
  {id: 'R20a', title: 'Receive Maximum 0', send: [connect(5, 0x02, 10, ID, '21 0000')], expect: [connack5(PROTOCOL)], end: 'close'},
  {id: 'R20b', title: 'Maximum Packet Size 0', send: [connect(5, 0x02, 10, ID, '27 00000000')], expect: [connack5(PROTOCOL)], end: 'close'},
  {id: 'R21a', title: 'a truncated CONNECT property (props 01 11)', send: [connect(5, 0x02, 10, ID, '11')], expect: [connack5(MALFORMED)], end: 'close'},
  {id: 'R21b', title: 'an unknown CONNECT property (props 02 04 01)', send: [connect(5, 0x02, 10, ID, '04 01')], expect: [connack5(MALFORMED)], end: 'close'},
  {id: 'R21c', title: 'a property CONNECT must not carry (props 02 01 01, Payload Format Indicator)', send: [connect(5, 0x02, 10, ID, '01 01')], expect: [connack5(PROTOCOL)], end: 'close'},
  {id: 'R22a', title: 'Authentication Data without Authentication Method', send: [connect(5, 0x02, 10, ID, '16 0001 70')], expect: [connack5(PROTOCOL)], end: 'close'},
  {id: 'R22b', title: 'an unsupported Authentication Method', send: [connect(5, 0x02, 10, ID, `15 ${str('unsupported')} 17 00`)], expect: [connack5(0x8c)], end: 'close'},
  {
    id: 'R23a',
    title: '12,000 user properties in CONNECT, 60 kB (parsed in linear time)',
    send: [connect(5, 0x02, 10, ID, `17 00 ${manyUserProperties(12_000)}`), PINGREQ],
    expect: [CONNACK_OK, PINGRESP],
    end: 'open',
  },
  {id: 'R23b', title: '50,000 user properties in CONNECT, 250 kB (over maxConnectSize)', send: [connect(5, 0x02, 10, ID, `17 00 ${manyUserProperties(50_000)}`)], expect: [connack5(0x95)], end: 'close'},
  ...both(
    'R24a',
    'a 150 kB CONNECT (Will payload, user name and password of 50,000 bytes each), over maxConnectSize (64 KiB)',
    {send: [connect(4, 0xc6, 10, ID + str('w') + bin(50_000) + str('u'.repeat(50_000)) + bin(50_000))], expect: [], end: 'close', note: '3.1.1 has no CONNACK code for it'},
    {send: [connect(5, 0xc6, 10, ID + props() + str('w') + bin(50_000) + str('u'.repeat(50_000)) + bin(50_000))], expect: [connack5(0x95)], end: 'close'},
  ),
  ...both(
    'R24b',
    'a CONNECT header declaring more than maxPacketSize, then only its protocol name and level',
    {send: [`10 81 80 40 ${str('MQTT')} 04`], expect: [], end: 'close'},
    {send: [`10 81 80 40 ${str('MQTT')} 05`], expect: [connack5(0x95)], end: 'close', note: 'refused from the header and the 7 bytes that carry the protocol level; the rest is never buffered'},
  ),
  {id: 'R24c', title: 'a CONNECT header over maxConnectSize with protocol name "MQTU"', send: [`10 81 80 04 ${str('MQTU')} 05`], expect: [], end: 'close'},
  {id: 'R25 v3.1.1', title: 'Will topic "#"', send: [connect(4, 0x06, 10, ID + str('#') + str('w'))], expect: [], end: 'close', note: '3.1.1 has no CONNACK code for a bad Will topic'},
  {id: 'R25 v5', title: 'Will topic "#"', send: [connect(5, 0x06, 10, ID + props() + str('#') + str('w'))], expect: [connack5(0x90)], end: 'close'},
  ...both(
    'R25b',
    'Will topic "$CONTROL/x" (reserved for the server)',
    {send: [connect(4, 0x06, 10, ID + str('$CONTROL/x') + str('w'))], expect: ['20 02 00 05'], end: 'close', note: 'return code 5, not authorized, as for a Will the authorizer refuses'},
    {send: [connect(5, 0x06, 10, ID + props() + str('$CONTROL/x') + str('w'))], expect: [connack5(0x87)], end: 'close', note: '0x87 Not authorized, as for a Will the authorizer refuses'},
  ),
  ...both(
    'R25c',
    'retained Will topic "$SYS/x" (reserved for the server)',
    {send: [connect(4, 0x26, 10, ID + str('$SYS/x') + str('w'))], expect: ['20 02 00 05'], end: 'close'},
    {send: [connect(5, 0x26, 10, ID + props() + str('$SYS/x') + str('w'))], expect: [connack5(0x87)], end: 'close'},
  ),
  ...both(
    'R25d',
    'QoS 0 PUBLISH to "$CONTROL/x" by a client subscribed to "$CONTROL/#" (dropped, not delivered)',
    {send: [C4, subscribe(4, 1, [['$CONTROL/#', 1]]), publish(4, 0, str('$CONTROL/x'), undefined)], expect: [CONNACK4, suback(4, 1, [1])], end: 'open'},
    {send: [C5, subscribe(5, 1, [['$CONTROL/#', 1]]), publish(5, 0, str('$CONTROL/x'), undefined)], expect: [CONNACK_OK, suback(5, 1, [1])], end: 'open'},
  ),
  ...both(
    'R25e',
    'QoS 1 PUBLISH to "$SYS/x" by a client subscribed to "$SYS/#" (refused, not delivered)',
    {send: [C4, subscribe(4, 1, [['$SYS/#', 1]]), publish(4, 0x02, str('$SYS/x'), 7)], expect: [CONNACK4, suback(4, 1, [1]), '40 02 0007'], end: 'open', note: '3.1.1 has no negative PUBACK: acknowledged and dropped'},
    {send: [C5, subscribe(5, 1, [['$SYS/#', 1]]), publish(5, 0x02, str('$SYS/x'), 7)], expect: [CONNACK_OK, suback(5, 1, [1]), '40 03 0007 87'], end: 'open'},
  ),
  ...both(
    'R25f',
    'QoS 2 PUBLISH to "$x" (refused, not delivered)',
    {send: [C4, subscribe(4, 1, [['$x', 2]]), publish(4, 0x04, str('$x'), 7)], expect: [CONNACK4, suback(4, 1, [2]), '50 02 0007'], end: 'open'},
    {send: [C5, subscribe(5, 1, [['$x', 2]]), publish(5, 0x04, str('$x'), 7)], expect: [CONNACK_OK, suback(5, 1, [2]), '50 03 0007 87'], end: 'open'},
  ),

  // -- PUBLISH
  ...violation('R26', 'PUBLISH with QoS 3', '36 10 0005 746f706963 1234 7061796c6f6164', publish(5, 0x06, TOPIC, 0x1234), MALFORMED),
  ...violation('R27', 'QoS 1 PUBLISH with packet id 0', '32 10 0005 746f706963 0000 7061796c6f6164', publish(5, 0x02, TOPIC, 0), PROTOCOL),
  ...violation('R28a', 'PUBLISH to "+opic"', '30 0e 0005 2b6f706963 7061796c6f6164', publish(5, 0, str('+opic'), undefined), 0x90, 'MQTT 5 allows 0x90 Topic Name invalid here (Mosquitto sends 0x81)'),
  ...violation('R28b', 'PUBLISH to "#opic"', '30 0e 0005 236f706963 7061796c6f6164', publish(5, 0, str('#opic'), undefined), 0x90, 'MQTT 5 allows 0x90 Topic Name invalid here'),
  ...violation('R29', 'PUBLISH with an empty topic and no alias', '30 09 0000 7061796c6f6164', publish(5, 0, str(''), undefined), PROTOCOL, 'MQTT 5 §3.3.2.3.4 names this a Protocol Error (0x82)'),
  ...violation('R30a', 'PUBLISH topic with an encoded surrogate', '30 0e 0005 746feda080 7061796c6f6164', publish(5, 0, str('hex:746feda080'), undefined), MALFORMED),
  ...violation('R30b', 'PUBLISH topic with U+0000', '30 0e 0005 746f700000 7061796c6f6164', publish(5, 0, str('hex:746f700000'), undefined), MALFORMED),
  ...violation('R31a', 'PUBLISH topic "a/" + overlong C0 AF (would decode to U+FFFD)', publish(4, 0, str('hex:612fc0af'), undefined), publish(5, 0, str('hex:612fc0af'), undefined), MALFORMED),
  ...violation('R31b', 'PUBLISH topic "a/" + FF (would decode to U+FFFD)', publish(4, 0, str('hex:612fff'), undefined), publish(5, 0, str('hex:612fff'), undefined), MALFORMED),
  ...violation('R32', 'QoS 0 PUBLISH with DUP set', '38 0e 0005 746f706963 7061796c6f6164', publish(5, 0x08, TOPIC, undefined), MALFORMED),
  ...violation('R33', 'QoS 1 PUBLISH missing its packet id', '32 03 0001 61', '32 03 0001 61', MALFORMED),
  ...both(
    'R34',
    'a PUBLISH declaring more bytes than sent, then silence (closed by the keepalive timeout)',
    {send: [connect(4, 0x02, 1, str('k4')), '30 ff 1f', '61 62 63'], expect: [CONNACK4], end: 'close', slow: true},
    {send: [connect(5, 0x02, 1, str('k5')), '30 ff 1f', '61 62 63'], expect: [CONNACK_OK, disconnect(0x8d)], end: 'close', slow: true},
  ),
  {id: 'R34 before CONNECT', title: 'a CONNECT declaring more bytes than sent, then silence (closed by the connect timeout)', send: ['10 ff 1f', '00 04'], expect: [], end: 'close', slow: true},
  {id: 'R35a v5', title: 'topic alias 11, above the Topic Alias Maximum 10', send: [C5, '30 12 0005 746f706963 03 23000b 7061796c6f6164'], expect: [CONNACK_OK, disconnect(0x94)], end: 'close'},
  {id: 'R35b v5', title: 'an empty topic with an alias never set', send: [C5, '30 0d 0000 03 230003 7061796c6f6164'], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  {id: 'R35c v5', title: 'topic alias 0 (MQTT-3.3.2-8)', send: [C5, publish(5, 0, TOPIC, undefined, '23 0000')], expect: [CONNACK_OK, disconnect(0x94)], end: 'close'},
  {id: 'R36a v5', title: 'PUBLISH with a Subscription Identifier (MQTT-3.3.4-6)', send: [C5, publish(5, 0, TOPIC, undefined, '0b 01')], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  {id: 'R36b v5', title: 'Payload Format Indicator 2', send: [C5, publish(5, 0, TOPIC, undefined, '01 02')], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  {id: 'R36c v5', title: 'Message Expiry Interval twice', send: [C5, publish(5, 0, TOPIC, undefined, '02 00000001 02 00000001')], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  {id: 'R36d v5', title: 'Response Topic "#" (MQTT-3.3.2-14)', send: [C5, publish(5, 0, TOPIC, undefined, `08 ${str('#')}`)], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  ...violation('R37a', 'QoS 2 PUBLISH above Maximum QoS 1 (MQTT-3.2.2-11)', publish(4, 0x04, TOPIC, 1), publish(5, 0x04, TOPIC, 1), 0x9b).map((c) => ({...c, capped: true})),
  ...violation('R37b', 'retained PUBLISH where retain is not available (MQTT-3.2.2-14)', publish(4, 0x01, TOPIC, undefined), publish(5, 0x01, TOPIC, undefined), 0x9a).map((c) => ({
    ...c,
    capped: true,
  })),
  {id: 'R37c v5', title: 'a Will with QoS 2 above Maximum QoS 1 (MQTT-3.2.2-12)', send: [connect(5, 0x16, 10, ID + props() + str('w') + str('w'))], expect: [connack5(0x9b)], end: 'close', capped: true},
  {id: 'R37d v5', title: 'a retained Will where retain is not available (MQTT-3.2.2-13)', send: [connect(5, 0x26, 10, ID + props() + str('w') + str('w'))], expect: [connack5(0x9a)], end: 'close', capped: true},
  {
    id: 'R38 v5',
    title: '21 unreleased QoS 2 PUBLISH against Receive Maximum 20',
    send: [C5, ...Array.from({length: 21}, (_, i) => publish(5, 0x04, TOPIC, i + 1))],
    expect: [CONNACK_OK, ...Array.from({length: 20}, (_, i) => `5003${u16(i + 1)}10`), disconnect(0x93)],
    end: 'close',
  },
  ...both(
    'R39',
    'one QoS 2 packet id reused with new payloads and never released',
    {send: [C4, ...Array.from({length: 5}, () => publish(4, 0x04, TOPIC, 1))], expect: [CONNACK4, ...Array.from({length: 5}, () => '50020001')], end: 'open'},
    {
      send: [C5, ...Array.from({length: 5}, () => publish(5, 0x04, TOPIC, 1))],
      expect: [CONNACK_OK, '5003000110', ...Array.from({length: 4}, () => '50020001')],
      end: 'open',
      note: 'the first PUBREC says 0x10 No matching subscribers; the repeats only acknowledge',
    },
  ),
  {id: 'R40', title: '100,000 PINGREQs in one write', send: [C4, PINGREQ.repeat(100_000)], expect: [CONNACK4, PINGRESP.repeat(100_000)], end: 'open'},
  ...violation('R41a', 'PUBLISH to a topic of 101 levels (maxTopicLevels 100)', publish(4, 0, str(levels(101)), undefined), publish(5, 0, str(levels(101)), undefined), 0x90),
  ...both(
    'R41b',
    'SUBSCRIBE to "/" × 65535 (65,536 levels)',
    {send: [C4, subscribe(4, 1, [['/'.repeat(65535), 0]])], expect: [CONNACK4, suback(4, 1, [0x80])], end: 'open'},
    {send: [C5, subscribe(5, 1, [['/'.repeat(65535), 0]])], expect: [CONNACK_OK, suback(5, 1, [0x8f])], end: 'open'},
  ),

  // -- SUBSCRIBE and UNSUBSCRIBE
  ...violation('R42', 'SUBSCRIBE with reserved flags 0000 (MQTT-3.8.1-1)', '80 06 1234 0001 70 00', subscribe(5, 0x1234, [['p', 0]], 0x80), MALFORMED),
  ...violation('R43a', 'SUBSCRIBE whose filter (with U+0000) has no options byte', '82 0e 007b 000a 68696a6b6c2f6d6e6f00', '82 0f 007b 00 000a 68696a6b6c2f6d6e6f00', MALFORMED),
  ...violation('R43b', 'SUBSCRIBE whose filter has no options byte', pkt(0x82, `0001 ${str('abc')}`), pkt(0x82, `0001 00 ${str('abc')}`), MALFORMED),
  ...violation('R44a', 'SUBSCRIBE without any filter (MQTT-3.8.3-2)', '82 02 1234', '82 03 1234 00', PROTOCOL, 'MQTT 5 §3.8.3 names an empty SUBSCRIBE a Protocol Error (0x82)'),
  ...violation('R44b', 'SUBSCRIBE with packet id 0', '82 06 0000 0001 70 00', subscribe(5, 0, [['p', 0]]), PROTOCOL, 'MQTT-2.2.1-3: a protocol error (Mosquitto sends 0x81)'),
  ...violation('R45a', 'subscription options 03 (QoS 3)', subscribe(4, 1, [['p', 0x03]]), subscribe(5, 1, [['p', 0x03]]), PROTOCOL, 'MQTT 5 §3.8.3.1: QoS 3 is a Protocol Error'),
  ...violation('R45b', 'subscription options 30 (Retain Handling 3)', subscribe(4, 1, [['p', 0x30]]), subscribe(5, 1, [['p', 0x30]]), PROTOCOL, 'MQTT 5 §3.8.3.1: Retain Handling 3 is a Protocol Error'),
  ...violation('R45c', 'subscription options C0 (reserved bits, MQTT-3.8.3-5)', subscribe(4, 1, [['p', 0xc0]]), subscribe(5, 1, [['p', 0xc0]]), MALFORMED),
  ...both(
    'R46',
    'SUBSCRIBE to "#/a", "a/b#" and "a+"',
    {send: [C4, subscribe(4, 1, [['#/a', 0], ['a/b#', 0], ['a+', 0]])], expect: [CONNACK4, suback(4, 1, [0x80, 0x80, 0x80])], end: 'open'},
    {send: [C5, subscribe(5, 1, [['#/a', 0], ['a/b#', 0], ['a+', 0]])], expect: [CONNACK_OK, suback(5, 1, [0x8f, 0x8f, 0x8f])], end: 'open'},
  ),
  {id: 'R47a v5', title: 'No Local on "$share/p/p" (MQTT-3.8.3-4)', send: [C5, '82 10 1234 00 000a 2473686172652f702f70 04'], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  ...both(
    'R47b',
    'shared subscriptions "$share/p/", "$share//t", "$share/a+b/t" and "$share/p" (bad share names, MQTT-4.8.2-1/2)',
    {send: [C4, subscribe(4, 1, [['$share/p/', 0], ['$share//t', 0], ['$share/a+b/t', 0], ['$share/p', 0]])], expect: [CONNACK4, suback(4, 1, [0x80, 0x80, 0x80, 0x80])], end: 'open'},
    {
      send: [C5, subscribe(5, 1, [['$share/p/', 0], ['$share//t', 0], ['$share/a+b/t', 0], ['$share/p', 0]])],
      expect: [CONNACK_OK, suback(5, 1, [0x8f, 0x8f, 0x8f, 0x8f])],
      end: 'open',
      note: 'reliability.md allows SUBACK 0x8F for a bad ShareName; only No Local on $share ends the connection',
    },
  ),
  ...[4, 5].map((v): CorpusCase => {
    const version = v as 4 | 5
    return {
      id: `R48 v${v === 4 ? '3.1.1' : '5'}`,
      title: 'shared and ordinary subscriptions to one filter, subscribed and unsubscribed in turn',
      send: [
        v === 4 ? C4 : C5,
        subscribe(version, 1, [['$share/g/t', 1]]),
        subscribe(version, 2, [['t', 1]]),
        unsubscribe(version, 3, ['$share/g/t']),
        unsubscribe(version, 4, ['t']),
        subscribe(version, 5, [['$share/g/t', 1], ['$queue/t', 1], ['t', 0]]),
        unsubscribe(version, 6, ['$share/g/t']),
        unsubscribe(version, 7, ['$share/g/t', '$queue/t', 't']),
        publish(version, 0x02, str('t'), 9),
      ],
      expect: [
        v === 4 ? CONNACK4 : CONNACK_OK,
        suback(version, 1, [1]),
        suback(version, 2, [1]),
        unsuback(version, 3, [0]),
        unsuback(version, 4, [0]),
        suback(version, 5, [1, 1, 0]),
        unsuback(version, 6, [0]),
        unsuback(version, 7, [0x11, 0, 0]),
        v === 4 ? '40020009' : '4003000910',
      ],
      end: 'open',
    }
  }),
  ...violation('R49a', 'PUBREL with reserved flags 0000 (MQTT-3.6.1-1)', '60 02 0001', '60 02 0001', MALFORMED),
  ...both(
    'R49b',
    'PUBREL for a packet id never received',
    {send: [C4, '62 02 0001'], expect: [CONNACK4, '70 02 0001'], end: 'open'},
    {send: [C5, '62 02 0001'], expect: [CONNACK_OK, '70 03 0001 92'], end: 'open', note: 'PUBCOMP 0x92 Packet Identifier not found, as MQTT 5 §3.7.2.1 names it'},
  ),
  ...both(
    'R50a',
    'PUBREC for a packet id the broker never sent',
    {send: [C4, '50 02 0001'], expect: [CONNACK4, '62 02 0001'], end: 'open', note: 'answered with PUBREL, which 3.1.1 allows'},
    {send: [C5, '50 02 0001'], expect: [CONNACK_OK, '62 03 0001 92'], end: 'open', note: 'MQTT 5 §3.6.2.1 names PUBREL 0x92 Packet Identifier not found for this; it is no protocol error'},
  ),
  ...violation('R50b', 'CONNACK from a client', '20 02 00 00', '20 03 00 00 00', PROTOCOL),
  {id: 'R50c v5', title: 'a server packet with bad flags (29 02 00 01), then DISCONNECT', send: [C5, '29 02 00 01', 'e0 00'], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  ...both(
    'R50d',
    'PUBACK for a packet id the broker never sent (ignored)',
    {send: [C4, '40 02 0001'], expect: [CONNACK4], end: 'open'},
    {send: [C5, '40 02 0001'], expect: [CONNACK_OK], end: 'open'},
  ),
  ...wrongAck('R50e', 'PUBREC for a QoS 1 message the broker sent', 1, '50 02 0001'),
  ...wrongAck('R50f', 'PUBCOMP for a QoS 1 message the broker sent', 1, '70 02 0001'),
  ...wrongAck('R50g', 'PUBACK for a QoS 2 message the broker sent', 2, '40 02 0001'),
  ...wrongAck('R50h', 'PUBCOMP for a QoS 2 message before its PUBREC', 2, '70 02 0001'),
  ...violation('R50i', 'SUBACK from a client', '90 03 0001 00', '90 04 0001 00 00', PROTOCOL),
  ...violation('R50j', 'UNSUBACK from a client', 'b0 02 0001', 'b0 04 0001 00 00', PROTOCOL),
  ...violation('R50k', 'PINGRESP from a client', 'd0 00', 'd0 00', PROTOCOL),
  {id: 'R50l', title: 'PINGRESP as the first packet', send: ['d0 00'], expect: [], end: 'close'},

  // -- normative statements not already covered by a row
  {id: 'N-1.5.5 v5', title: 'a property length written as a 5-byte Variable Byte Integer', send: [C5, pkt(0x30, `${TOPIC} ff ff ff ff 7f`)], expect: [CONNACK_OK, disconnect(MALFORMED)], end: 'close'},
  {id: 'N-1.5.7-1 v5', title: 'a User Property whose name is ill-formed UTF-8', send: [C5, publish(5, 0, TOPIC, undefined, `26 ${str('hex:ff')} ${str('v')}`)], expect: [CONNACK_OK, disconnect(MALFORMED)], end: 'close'},
  ...violation('N-2.1.3-1a', 'PUBACK with reserved flags 0001', '41 02 0001', '41 02 0001', MALFORMED),
  ...violation('N-2.1.3-1b', 'PINGREQ with reserved flags 0001', 'c1 00', 'c1 00', MALFORMED),
  ...violation('N-3.10.1-1', 'UNSUBSCRIBE with reserved flags 0000', pkt(0xa0, `0001 ${str('p')}`), pkt(0xa0, `0001 00 ${str('p')}`), MALFORMED),
  ...violation('N-3.14.1-1', 'DISCONNECT with reserved flags 0001', 'e1 00', 'e1 00', MALFORMED),
  {id: 'N-3.15.1-1 v5', title: 'AUTH with reserved flags 0001', send: [C5, 'f1 00'], expect: [CONNACK_OK, disconnect(MALFORMED)], end: 'close'},
  {id: 'N-3.15.2 v5', title: 'AUTH when no authentication method was agreed', send: [C5, 'f0 02 18 00'], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  {id: 'N-3.15.2.1a v5', title: 'an empty AUTH (reason 0 implied) when no authentication method was agreed', send: [C5, 'f0 00'], expect: [CONNACK_OK, disconnect(PROTOCOL)], end: 'close'},
  {id: 'N-3.15.2.1b v5', title: 'AUTH with reason code 0x07', send: [C5, 'f0 02 07 00'], expect: [CONNACK_OK, disconnect(MALFORMED)], end: 'close'},
  {id: 'N-2.2.2-1 v5', title: 'a property length running past the packet', send: [C5, pkt(0x30, `${TOPIC} 0a 0102`)], expect: [CONNACK_OK, disconnect(MALFORMED)], end: 'close'},
  {id: 'N-3.1.2-13', title: 'Will Retain without the Will flag', send: [connect(4, 0x22, 10, ID)], expect: [], end: 'close'},
  {id: 'N-3.1.2-22 v3.1.1', title: 'a password without a user name', send: [connect(4, 0x42, 10, ID + str('x'))], expect: [], end: 'close'},
  {id: 'N-3.1.2-22 v5', title: 'a password without a user name, which MQTT 5 allows', send: [connect(5, 0x42, 10, ID + str('x')), PINGREQ], expect: [CONNACK_OK, PINGRESP], end: 'open'},
  {id: 'N-3.1.2-19', title: 'a CONNECT with bytes after its last field', send: [connect(4, 0x02, 10, `${ID} 00`)], expect: [], end: 'close'},
  // Remaining Length 2 MiB + 1 (81 80 80 01): one byte over the default maxPacketSize.
  ...violation('N-3.2.2-15', 'a PUBLISH header declaring more than maxPacketSize', '30 81 80 80 01', '30 81 80 80 01', 0x95),
  ...violation('N-3.10.3-2', 'UNSUBSCRIBE without any filter', 'a2 02 0001', 'a2 03 0001 00', PROTOCOL),
  ...violation('N-3.12', 'PINGREQ with a body', 'c0 01 00', 'c0 01 00', MALFORMED),
  ...violation('N-3.14', 'DISCONNECT with an unknown reason code', 'e0 01 00', 'e0 02 05 00', MALFORMED, '3.1.1: DISCONNECT has no body at all'),
]

/**
 * WebSocket frame rows (reliability.md rows 51–58): raw frames after a successful upgrade,
 * answered by a WebSocket close code. Hex is the whole frame as sent (client frames are masked
 * unless the row is about the mask; mask key 00000000 keeps the payload readable).
 */
export interface WsFrameCase {
  id: string
  title: string
  /** Whole frames, hex. */
  frames: string[]
  /** The close code the broker must send; undefined: the connection must keep working. */
  closeCode?: number
  note?: string
}

function hexBytes(hex: string): string[] {
  return clean(hex).match(/../g) ?? []
}

/** A masked frame with mask key 0: header bytes, then the payload unchanged. */
function frame(first: number, payload: string): string {
  const p = clean(payload)
  const len = p.length / 2
  const lenHex = len < 126 ? byte(0x80 | len) : len < 0x10000 ? `fe${u16(len)}` : `ff${len.toString(16).padStart(16, '0')}`
  return byte(first) + lenHex + '00000000' + p
}

export const WS_FRAME_CASES: WsFrameCase[] = [
  {id: 'R51', title: 'a text frame carrying CONNECT', frames: [frame(0x81, C4)], closeCode: 1003, note: 'MQTT-6.0.0-1: 1003, data the endpoint cannot accept'},
  {id: 'R52', title: 'an unmasked binary frame', frames: [`82${byte(C4.length / 2)}${C4}`], closeCode: 1002},
  {id: 'R53a', title: 'RSV1 set without permessage-deflate', frames: [frame(0xc2, C4)], closeCode: 1002},
  {id: 'R53b', title: 'reserved opcode 3', frames: [frame(0x83, '')], closeCode: 1002},
  {id: 'R53c', title: 'a continuation frame with nothing to continue', frames: [frame(0x80, '')], closeCode: 1002},
  {id: 'R54a', title: 'a ping with FIN 0', frames: [frame(0x09, '')], closeCode: 1002},
  {id: 'R54b', title: 'a ping of 126 bytes', frames: [frame(0x89, '00'.repeat(126))], closeCode: 1002},
  {id: 'R54c', title: 'a close frame with a 1-byte payload', frames: [frame(0x88, '03')], closeCode: 1002},
  {id: 'R54d', title: 'a close frame with code 1005', frames: [frame(0x88, '03ed')], closeCode: 1002},
  {id: 'R54e', title: 'a close frame with code 999', frames: [frame(0x88, '03e7')], closeCode: 1002},
  {id: 'R54f', title: 'a close frame whose reason is ill-formed UTF-8', frames: [frame(0x88, '03e8 ff')], closeCode: 1007},
  {id: 'R55', title: 'a frame declaring 2^63 bytes', frames: ['82 ff 7fffffffffffffff 00000000'], closeCode: 1009},
  {
    id: 'R56',
    title: 'CONNECT and PINGREQ as one message of one-byte frames',
    frames: [...hexBytes(C4 + PINGREQ).map((b, i, all) => frame(i === 0 ? 0x02 : i === all.length - 1 ? 0x80 : 0x00, b))],
  },
  {
    id: 'R57',
    title: '200,000 empty continuation frames after a fragment',
    frames: [frame(0x02, ''), frame(0x00, '').repeat(200_000), frame(0x80, C4 + PINGREQ)],
    closeCode: 1008,
    note: "ws's WebSocketServer allows 16,384 fragments per message (maxFragments)",
  },
]

/** Handshake abuse (row 58): none of these may be upgraded. */
export interface WsHandshakeCase {
  id: string
  title: string
  /** Sec-WebSocket-Protocol as sent; null leaves it out. */
  protocol?: string | null
  headers?: string[]
  note?: string
}

export const WS_HANDSHAKE_CASES: WsHandshakeCase[] = [
  {id: 'R58a', title: 'no subprotocol', protocol: null},
  {id: 'R58b', title: 'only the subprotocol "chat"', protocol: 'chat'},
  {id: 'R58c', title: 'WebSocket version 12 besides 13', headers: ['Sec-WebSocket-Version: 12']},
  {id: 'R58d', title: '10,000 header lines', headers: Array.from({length: 10_000}, (_, i) => `X-Filler-${i}: x`)},
  {id: 'R58e', title: 'Origin: https://evil.example (the corpus broker allows only CORPUS_WS.origins)', headers: ['Origin: https://evil.example']},
]

/** WebSocket options of the corpus broker: browsers from other origins are refused (row 58). Clients without Origin (not browsers) are served. */
export const CORPUS_WS = {origins: ['https://app.example']}
