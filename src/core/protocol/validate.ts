/**
 * Strict checks on one whole packet, as bytes, before mqtt-packet parses it. mqtt-packet
 * accepts much that a broker must refuse: it turns ill-formed UTF-8 into U+FFFD, accepts
 * NUL and surrogates, turns a duplicate property into an array, reads a property past
 * the property length, and checks neither which packet may carry which property nor
 * most value ranges. Everything here follows MQTT 5 §1.5, §2 and §3 (3.1.1 §1.5, §2, §3
 * for versions 3 and 4): 0x81 Malformed Packet for bad encodings, 0x82 Protocol Error
 * for well-encoded but forbidden content.
 *
 * Synchronous, one pass over the bytes, and allocation-free unless something is wrong.
 */
import {isUtf8} from 'node:buffer'
import {In, PROPS, Prop, PropType, placeName} from './properties.js'
import {ReasonCode} from './reason-codes.js'

export interface PacketProblem {
  /** The MQTT 5 reason code the spec names for it (0x81, 0x82, 0x84, 0x85). */
  reasonCode: number
  message: string
  /**
   * For a CONNECT whose protocol level could be read: the level, so that the answer (a
   * CONNACK with the reason code, or just a close) is in the client's own version.
   */
  connectVersion?: 3 | 4 | 5
}

const MALFORMED = ReasonCode.MalformedPacket
const PROTOCOL = ReasonCode.ProtocolError

function codeSet(codes: number[]): Uint8Array {
  const s = new Uint8Array(256)
  for (const c of codes) s[c] = 1
  return s
}

// Reason codes a client may send (MQTT 5 §3.4.2.1, §3.6.2.1, §3.14.2.1, §3.15.2.1).
const PUBACK_CODES = codeSet([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99])
const PUBREL_CODES = codeSet([0x00, 0x92])
const DISCONNECT_CODES = codeSet([
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a,
  0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
])
const AUTH_CODES = codeSet([0x00, 0x18, 0x19])

const TYPE_NAMES = ['reserved type 0', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH']

/**
 * The reader's state lives in module variables: validation never re-enters, and this keeps
 * the hot path free of per-packet objects.
 */
let buf: Buffer = Buffer.alloc(0)
let pos = 0
let end = 0
let problem: PacketProblem | undefined
let connectVersion: 3 | 4 | 5 | undefined
/** seen[id] === generation when property `id` already appeared in the current property list. */
const seen = new Uint32Array(64)
let generation = 0

function fail(reasonCode: number, message: string): false {
  problem = connectVersion === undefined ? {reasonCode, message} : {reasonCode, message, connectVersion}
  return false
}

function malformed(message: string): false {
  return fail(MALFORMED, message)
}

function need(n: number, limit: number, what: string): boolean {
  if (pos + n <= limit) return true
  return malformed(`${what} runs past the end of the ${limit === end ? 'packet' : 'property list'}`)
}

/** A Variable Byte Integer of at most 4 bytes (MQTT 5 §1.5.5); -1 after a failure. */
function varint(limit: number, what: string): number {
  let value = 0
  let mul = 1
  for (let i = 0; i < 4; i++) {
    if (pos >= limit) {
      malformed(`${what} runs past the end of the packet`)
      return -1
    }
    const b = buf[pos++]
    value += (b & 0x7f) * mul
    if ((b & 0x80) === 0) return value
    mul *= 128
  }
  malformed(`${what} is a Variable Byte Integer longer than 4 bytes`)
  return -1
}

/**
 * A UTF-8 string field (MQTT 5 §1.5.4): well-formed UTF-8, no surrogates, no U+0000.
 * Returns the index after the string, or -1. Leaves `pos` after it.
 */
function string(limit: number, what: string): number {
  if (!need(2, limit, what)) return -1
  const len = (buf[pos] << 8) | buf[pos + 1]
  pos += 2
  if (pos + len > limit) {
    malformed(`${what} declares ${len} bytes, more than the ${limit === end ? 'packet' : 'property list'} holds`)
    return -1
  }
  const start = pos
  const stop = pos + len
  let ascii = true
  for (let i = start; i < stop; i++) {
    const c = buf[i]
    if (c === 0) {
      malformed(`${what} contains the character U+0000, which MQTT forbids in strings`)
      return -1
    }
    if (c >= 0x80) ascii = false
  }
  if (!ascii && !isUtf8(buf.subarray(start, stop))) {
    malformed(`${what} is not well-formed UTF-8 (ill-formed bytes or an encoded surrogate)`)
    return -1
  }
  pos = stop
  return stop
}

/** Binary Data (MQTT 5 §1.5.6): a two-byte length and that many bytes. */
function binary(limit: number, what: string): boolean {
  if (!need(2, limit, what)) return false
  const len = (buf[pos] << 8) | buf[pos + 1]
  pos += 2
  if (pos + len > limit) return malformed(`${what} declares ${len} bytes, more than the ${limit === end ? 'packet' : 'property list'} holds`)
  pos += len
  return true
}

function u16(what: string): number {
  if (!need(2, end, what)) return -1
  const v = (buf[pos] << 8) | buf[pos + 1]
  pos += 2
  return v
}

function hasWildcard(start: number, stop: number): boolean {
  for (let i = start; i < stop; i++) if (buf[i] === 0x2b || buf[i] === 0x23) return true
  return false
}

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`

/** An MQTT 5 property list (§2.2.2) for `where` (one of In.*). */
function properties(where: number): boolean {
  const len = varint(end, 'the property length')
  if (len < 0) return false
  const stop = pos + len
  // MQTT-2.2.2-1 family: the declared length must fit in the packet.
  if (stop > end) return malformed(`the property length ${len} runs past the end of the packet`)
  if (++generation === 0xffffffff) {
    seen.fill(0)
    generation = 1
  }
  let authData = false
  let authMethod = false
  while (pos < stop) {
    const id = buf[pos++]
    const def = id < PROPS.length ? PROPS[id] : undefined
    if (def === undefined) return malformed(`unknown property identifier ${hex2(id)} in ${placeName(where)}`)
    if ((def.allowed & where) === 0) return fail(PROTOCOL, `the ${def.name} property (${hex2(id)}) is not allowed in ${placeName(where)}`)
    if (id !== Prop.UserProperty) {
      if (seen[id] === generation) return fail(PROTOCOL, `the ${def.name} property appears more than once in ${placeName(where)}`)
      seen[id] = generation
    }
    const what = `the ${def.name} property`
    switch (def.type) {
      case PropType.Byte: {
        if (!need(1, stop, what)) return false
        const v = buf[pos++]
        if (def.boolean && v > 1) return fail(PROTOCOL, `${what} is ${v}; it must be 0 or 1`)
        break
      }
      case PropType.TwoByte: {
        if (!need(2, stop, what)) return false
        const v = (buf[pos] << 8) | buf[pos + 1]
        pos += 2
        if (def.nonZero && v === 0) return fail(PROTOCOL, `${what} is 0, which is not allowed`)
        break
      }
      case PropType.FourByte: {
        if (!need(4, stop, what)) return false
        const v = buf.readUInt32BE(pos)
        pos += 4
        if (def.nonZero && v === 0) return fail(PROTOCOL, `${what} is 0, which is not allowed`)
        break
      }
      case PropType.VarInt: {
        const v = varint(stop, what)
        if (v < 0) return false
        if (def.nonZero && v === 0) return fail(PROTOCOL, `${what} is 0, which is not allowed`)
        break
      }
      case PropType.String: {
        const start = pos + 2
        const after = string(stop, what)
        if (after < 0) return false
        // MQTT-3.3.2-14 (and the Will's equivalent): a Response Topic is a Topic Name.
        if (id === Prop.ResponseTopic && hasWildcard(start, after)) return fail(PROTOCOL, `${what} contains a wildcard (+ or #)`)
        if (id === Prop.AuthenticationMethod) authMethod = true
        break
      }
      case PropType.Binary:
        if (!binary(stop, what)) return false
        if (id === Prop.AuthenticationData) authData = true
        break
      case PropType.StringPair:
        if (string(stop, `the name of a ${def.name}`) < 0 || string(stop, `the value of a ${def.name}`) < 0) return false
        break
    }
    if (id === Prop.SubscriptionIdentifier && where === In.PUBLISH) {
      // MQTT-3.3.4-6: only the server puts Subscription Identifiers into a PUBLISH.
      return fail(PROTOCOL, 'a PUBLISH from a client must not carry a Subscription Identifier')
    }
  }
  if (authData && !authMethod) return fail(PROTOCOL, `${placeName(where)} carries Authentication Data without an Authentication Method`)
  return true
}

/** U+0001..U+001F, U+007F..U+009F in a client id: refused, as Mosquitto and EMQX do. */
function hasControlCharacter(start: number, stop: number): boolean {
  for (let i = start; i < stop; i++) {
    const c = buf[i]
    if (c < 0x20 || c === 0x7f) return true
    if (c === 0xc2 && i + 1 < stop && buf[i + 1] >= 0x80 && buf[i + 1] <= 0x9f) return true
  }
  return false
}

/** "MQTT" or "MQIsdp" at buf[at, at+length), compared byte by byte: no string made per CONNECT. */
function isProtocolName(at: number, length: number): boolean {
  if (length === 4) return buf[at] === 0x4d && buf[at + 1] === 0x51 && buf[at + 2] === 0x54 && buf[at + 3] === 0x54
  if (length !== 6) return false
  return buf[at] === 0x4d && buf[at + 1] === 0x51 && buf[at + 2] === 0x49 && buf[at + 3] === 0x73 && buf[at + 4] === 0x64 && buf[at + 5] === 0x70
}

function checkConnect(flags: number): boolean {
  if (flags !== 0) return malformed('CONNECT has reserved header flags set')
  if (!need(2, end, 'the protocol name')) return false
  const nameLen = (buf[pos] << 8) | buf[pos + 1]
  if (pos + 2 + nameLen > end) return malformed('the protocol name runs past the end of the packet')
  const named = isProtocolName(pos + 2, nameLen)
  pos += 2 + nameLen
  if (!named) {
    const name = buf.toString('latin1', pos - nameLen, pos)
    return malformed(`the protocol name is ${JSON.stringify(name.slice(0, 32))}; MQTT clients send "MQTT" (or "MQIsdp" for 3.1)`)
  }
  if (!need(1, end, 'the protocol level')) return false
  const level = buf[pos++]
  if (level !== 3 && level !== 4 && level !== 5) {
    return fail(ReasonCode.UnsupportedProtocolVersion, `unsupported protocol version (level ${level}); this broker speaks 3 (3.1), 4 (3.1.1) and 5`)
  }
  connectVersion = level as 3 | 4 | 5
  if (!need(1, end, 'the connect flags')) return false
  const f = buf[pos++]
  if (f & 0x01) return malformed('the reserved CONNECT flag (bit 0) is set') // MQTT-3.1.2-3
  const will = (f & 0x04) !== 0
  const willQos = (f >> 3) & 3
  const willRetain = (f & 0x20) !== 0
  const password = (f & 0x40) !== 0
  const username = (f & 0x80) !== 0
  if (!will && (willQos !== 0 || willRetain)) return malformed('Will QoS or Will Retain is set without the Will flag') // MQTT-3.1.2-11/13
  if (willQos === 3) return malformed('the Will QoS is 3') // MQTT-3.1.2-12
  if (level < 5 && password && !username) return malformed('the password flag is set without the user name flag') // MQTT-3.1.2-22 (3.1.1)
  if (u16('the keep alive') < 0) return false
  if (level === 5 && !properties(In.CONNECT)) return false
  const idStart = pos + 2
  const idEnd = string(end, 'the client id')
  if (idEnd < 0) return false
  if (hasControlCharacter(idStart, idEnd)) return fail(ReasonCode.ClientIdentifierNotValid, 'the client id contains a control character')
  if (will) {
    if (level === 5 && !properties(In.WILL)) return false
    if (string(end, 'the Will topic') < 0) return false
    if (!binary(end, 'the Will payload')) return false
  }
  if (username && string(end, 'the user name') < 0) return false
  if (password && !binary(end, 'the password')) return false
  if (pos !== end) return malformed(`CONNECT has ${end - pos} bytes after its last field`)
  return true
}

function checkPublish(flags: number, version: number): boolean {
  const qos = (flags >> 1) & 3
  if (qos === 3) return malformed('PUBLISH with QoS 3') // MQTT-3.3.1-4
  if (qos === 0 && (flags & 0x08) !== 0) return malformed('PUBLISH with QoS 0 and the DUP flag set') // MQTT-3.3.1-2
  if (string(end, 'the topic') < 0) return false
  if (qos > 0) {
    const id = u16('the packet identifier')
    if (id < 0) return false
    if (id === 0) return fail(PROTOCOL, `QoS ${qos} PUBLISH with packet identifier 0`) // MQTT-2.2.1-3
  }
  if (version === 5 && !properties(In.PUBLISH)) return false
  return true
}

function checkAck(type: number, flags: number, version: number): boolean {
  const name = TYPE_NAMES[type]
  if (flags !== (type === 6 ? 2 : 0)) return malformed(`${name} with reserved header flags ${flags.toString(2).padStart(4, '0')}`)
  const id = u16('the packet identifier')
  if (id < 0) return false
  if (id === 0) return fail(PROTOCOL, `${name} with packet identifier 0`)
  if (version < 5) {
    if (pos !== end) return malformed(`${name} has ${end - pos} bytes after its packet identifier`)
    return true
  }
  if (pos < end) {
    const code = buf[pos++]
    const ok = type === 4 || type === 5 ? PUBACK_CODES[code] : PUBREL_CODES[code]
    if (!ok) return malformed(`${name} with reason code ${hex2(code)}, which ${name} cannot carry`)
    if (pos < end && !properties(In.ACK)) return false
    if (pos !== end) return malformed(`${name} has ${end - pos} bytes after its properties`)
  }
  return true
}

function checkSubscribe(flags: number, version: number): boolean {
  if (flags !== 2) return malformed(`SUBSCRIBE with reserved header flags ${flags.toString(2).padStart(4, '0')}; they must be 0010`) // MQTT-3.8.1-1
  const id = u16('the packet identifier')
  if (id < 0) return false
  if (id === 0) return fail(PROTOCOL, 'SUBSCRIBE with packet identifier 0')
  if (version === 5 && !properties(In.SUBSCRIBE)) return false
  if (pos === end) return fail(PROTOCOL, 'SUBSCRIBE without any topic filter') // MQTT-3.8.3-2
  while (pos < end) {
    if (string(end, 'a topic filter') < 0) return false
    if (pos >= end) return malformed('a topic filter has no subscription options byte')
    const o = buf[pos++]
    if (version === 5) {
      if (o & 0xc0) return malformed(`subscription options ${hex2(o)} set the reserved bits 6-7`) // MQTT-3.8.3-5
      if ((o & 3) === 3) return fail(PROTOCOL, 'a subscription asks for QoS 3')
      if (((o >> 4) & 3) === 3) return fail(PROTOCOL, 'a subscription asks for Retain Handling 3')
    } else {
      if (o & 0xfc) return malformed(`requested QoS byte ${hex2(o)} sets reserved bits 2-7`) // MQTT-3-8.3-4 (3.1.1)
      if (o === 3) return malformed('a subscription asks for QoS 3')
    }
  }
  return true
}

function checkUnsubscribe(flags: number, version: number): boolean {
  if (flags !== 2) return malformed(`UNSUBSCRIBE with reserved header flags ${flags.toString(2).padStart(4, '0')}; they must be 0010`) // MQTT-3.10.1-1
  const id = u16('the packet identifier')
  if (id < 0) return false
  if (id === 0) return fail(PROTOCOL, 'UNSUBSCRIBE with packet identifier 0')
  if (version === 5 && !properties(In.UNSUBSCRIBE)) return false
  if (pos === end) return fail(PROTOCOL, 'UNSUBSCRIBE without any topic filter') // MQTT-3.10.3-2
  while (pos < end) if (string(end, 'a topic filter') < 0) return false
  return true
}

function checkDisconnect(flags: number, version: number): boolean {
  if (flags !== 0) return malformed('DISCONNECT with reserved header flags set') // MQTT-3.14.1-1
  if (version < 5) {
    if (pos !== end) return malformed(`DISCONNECT has ${end - pos} bytes; in MQTT ${version === 4 ? '3.1.1' : '3.1'} it has none`)
    return true
  }
  if (pos < end) {
    const code = buf[pos++]
    if (!DISCONNECT_CODES[code]) return malformed(`DISCONNECT with reason code ${hex2(code)}, which DISCONNECT cannot carry`)
    if (pos < end && !properties(In.DISCONNECT)) return false
    if (pos !== end) return malformed(`DISCONNECT has ${end - pos} bytes after its properties`)
  }
  return true
}

function checkAuth(flags: number, version: number): boolean {
  if (version < 5) return malformed('AUTH (packet type 15) exists only in MQTT 5')
  if (flags !== 0) return malformed('AUTH with reserved header flags set') // MQTT-3.15.1-1
  if (pos === end) return true
  const code = buf[pos++]
  if (!AUTH_CODES[code]) return malformed(`AUTH with reason code ${hex2(code)}; it must be 0x00, 0x18 or 0x19`)
  if (pos < end && !properties(In.AUTH)) return false
  if (pos !== end) return malformed(`AUTH has ${end - pos} bytes after its properties`)
  return true
}

/**
 * Checks one complete packet (fixed header included) sent by a client. `version` is the
 * connection's protocol version (CONNECT brings its own). Returns undefined when the
 * packet is acceptable, or what is wrong with it.
 */
export function checkPacket(packet: Buffer, version: number): PacketProblem | undefined {
  buf = packet
  problem = undefined
  connectVersion = undefined
  end = packet.length
  pos = 1
  while (pos < end && buf[pos] & 0x80) pos++
  pos++
  const type = packet[0] >> 4
  const flags = packet[0] & 0x0f
  let ok: boolean
  switch (type) {
    case 1:
      ok = checkConnect(flags)
      break
    case 3:
      ok = checkPublish(flags, version)
      break
    case 4:
    case 5:
    case 6:
    case 7:
      ok = checkAck(type, flags, version)
      break
    case 8:
      ok = checkSubscribe(flags, version)
      break
    case 10:
      ok = checkUnsubscribe(flags, version)
      break
    case 12:
      ok = flags !== 0 ? malformed('PINGREQ with reserved header flags set') : pos === end || malformed('PINGREQ with a body')
      break
    case 14:
      ok = checkDisconnect(flags, version)
      break
    case 15:
      ok = checkAuth(flags, version)
      break
    case 0:
      ok = malformed('packet type 0 is reserved')
      break
    default:
      // CONNACK, SUBACK, UNSUBACK, PINGRESP: only a server sends these.
      ok = fail(PROTOCOL, `a client must not send ${TYPE_NAMES[type]}`)
  }
  buf = EMPTY
  if (ok) return undefined
  return problem ?? {reasonCode: MALFORMED, message: `malformed ${TYPE_NAMES[type]}`}
}

const EMPTY = Buffer.alloc(0)
