/**
 * The client's errors for what the broker refused, announced or did: a CONNACK, PUBACK or
 * PUBREC refusal, a DISCONNECT, a closed connection, and a PUBLISH the broker's CONNACK
 * limits forbid. Each names the reason code and says what to do; the exit code follows
 * from the class (RefusedError 3, TransportError 1, config 2).
 */
import {ErrorCode, MqttwsError, RefusedError, TransportError} from '../errors.js'
import type {IDisconnectPacket, ProtocolVersion, QoS} from '../protocol/codec.js'
import {describeReasonCode} from '../protocol/reason-codes.js'

/** A PUBACK or PUBREC with a reason code >= 0x80. */
export function refused(what: string, code: number, reason: string | undefined): RefusedError {
  return new RefusedError(`${what} refused with ${describeReasonCode(code)}${reason ? `: ${reason}` : ''}`, {reasonCode: code})
}

const V3_CONNACK: Record<number, string> = {
  1: 'unacceptable protocol version: try another -V (3.1, 3.1.1 or 5)',
  2: 'client identifier rejected: give another with -i',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
}

/** A CONNACK that refused the connection: MQTT 5 reason code, or a 3.1/3.1.1 return code. */
export function connackError(url: string, version: ProtocolVersion, code: number, reason: string | undefined): RefusedError {
  const text =
    version === 5
      ? `${describeReasonCode(code)}${reason ? `: ${reason}` : ''}`
      : `return code ${code} (${V3_CONNACK[code] ?? 'unknown'})`
  return new RefusedError(`${url}: the broker refused the connection: ${text}`, {reasonCode: code})
}

/** The broker's DISCONNECT (MQTT 5): a lost connection (exit 1), not a refusal (CONNACK and SUBACK carry those). */
export function disconnectedError(url: string, packet: IDisconnectPacket): TransportError {
  return new TransportError(
    `${url}: the broker disconnected us with ${describeReasonCode(packet.reasonCode ?? 0)}${packet.properties?.reasonString ? `: ${packet.properties.reasonString}` : ''}`,
    {reasonCode: packet.reasonCode ?? 0},
  )
}

/** The broker closed the connection without a word: before CONNACK, or after it (`largestPublish`: bytes of our largest PUBLISH, 0 if none). */
export function closedError(url: string, afterConnack: boolean, version: ProtocolVersion, largestPublish: number): TransportError {
  return new TransportError(
    afterConnack
      ? `${url}: the broker closed the connection${closedAfterPublish(version, largestPublish)}`
      : `${url}: the broker closed the connection before CONNACK: check the protocol version (-V), the client id, and the scheme (mqtts:// or wss:// for a TLS port)`,
  )
}

/**
 * Why a broker may have closed the connection after our PUBLISH. MQTT 5 brokers say it with
 * DISCONNECT; before 5 a broker can only close, and the client never learns its maximum packet size.
 */
function closedAfterPublish(version: ProtocolVersion, largestPublish: number): string {
  if (largestPublish === 0 || version === 5) return ''
  return ` after a PUBLISH of ${largestPublish} bytes: an MQTT ${version === 3 ? '3.1' : '3.1.1'} broker closes the connection on a message it refuses, and cannot say why. Larger than its maximum packet size? (mqttws: raise it with serve --max-packet-size; mosquitto: max_packet_size; with -V 5 the broker announces its limit and pub checks it before sending.) Not authorized? See the broker's log`
}

/** A PUBLISH of `size` bytes over the Maximum Packet Size of the broker's CONNACK: not sent. */
export function tooLargeError(url: string, size: number, maximumPacketSize: number): MqttwsError {
  return new MqttwsError(
    ErrorCode.PACKET_TOO_LARGE,
    `${url}: not sent: the PUBLISH is ${size} bytes, larger than the broker's maximum packet size of ${maximumPacketSize} bytes (its CONNACK says so): send less, or raise the broker's limit (mqttws: serve --max-packet-size; mosquitto: max_packet_size)`,
  )
}

/** What the broker's CONNACK allows a PUBLISH (MQTT 5; 3.1.1 brokers allow everything but aliases). */
export interface PublishLimits {
  maximumQoS: QoS
  retainAvailable: boolean
  /** 0: no topic aliases. */
  topicAliasMaximum: number
}

/** A PUBLISH with a QoS, retain flag or topic alias the broker's CONNACK does not allow: not sent. */
export function notAllowedError(limits: PublishLimits, qos: QoS, retain: boolean, alias: number | undefined): MqttwsError {
  let what: string
  if (qos > limits.maximumQoS) what = `QoS ${qos} is not allowed: the broker's Maximum QoS is ${limits.maximumQoS}`
  else if (retain && !limits.retainAvailable) what = 'retained messages are not allowed: the broker does not support retain'
  else what = `topic alias ${alias} is not allowed: the broker accepts ${limits.topicAliasMaximum === 0 ? 'no topic aliases' : `aliases 1 to ${limits.topicAliasMaximum}`}`
  return new MqttwsError(ErrorCode.CONFIG, what)
}
