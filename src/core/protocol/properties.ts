/**
 * MQTT 5 properties (spec §2.2.2.2): identifier → value type and the packets that may
 * carry it. The validator reads this table; it is indexed by identifier, so a lookup
 * is one array access.
 */

/** Value encodings of properties. */
export const PropType = {
  Byte: 1,
  TwoByte: 2,
  FourByte: 3,
  VarInt: 4,
  String: 5,
  Binary: 6,
  StringPair: 7,
} as const
export type PropType = (typeof PropType)[keyof typeof PropType]

/** Where a property may appear: one bit per packet (the Will properties count as their own place). */
export const In = {
  CONNECT: 1 << 0,
  WILL: 1 << 1,
  PUBLISH: 1 << 2,
  /** PUBACK, PUBREC, PUBREL, PUBCOMP */
  ACK: 1 << 3,
  SUBSCRIBE: 1 << 4,
  UNSUBSCRIBE: 1 << 5,
  DISCONNECT: 1 << 6,
  AUTH: 1 << 7,
  CONNACK: 1 << 8,
  SUBACK: 1 << 9,
  UNSUBACK: 1 << 10,
} as const

export interface PropDef {
  readonly name: string
  readonly type: PropType
  /** Bit set of In.* */
  readonly allowed: number
  /** A byte whose only legal values are 0 and 1. */
  readonly boolean?: boolean
  /** Zero is a protocol error (Receive Maximum, Maximum Packet Size, Subscription Identifier). */
  readonly nonZero?: boolean
}

export const Prop = {
  PayloadFormatIndicator: 0x01,
  MessageExpiryInterval: 0x02,
  ContentType: 0x03,
  ResponseTopic: 0x08,
  CorrelationData: 0x09,
  SubscriptionIdentifier: 0x0b,
  SessionExpiryInterval: 0x11,
  AssignedClientIdentifier: 0x12,
  ServerKeepAlive: 0x13,
  AuthenticationMethod: 0x15,
  AuthenticationData: 0x16,
  RequestProblemInformation: 0x17,
  WillDelayInterval: 0x18,
  RequestResponseInformation: 0x19,
  ResponseInformation: 0x1a,
  ServerReference: 0x1c,
  ReasonString: 0x1f,
  ReceiveMaximum: 0x21,
  TopicAliasMaximum: 0x22,
  TopicAlias: 0x23,
  MaximumQoS: 0x24,
  RetainAvailable: 0x25,
  UserProperty: 0x26,
  MaximumPacketSize: 0x27,
  WildcardSubscriptionAvailable: 0x28,
  SubscriptionIdentifierAvailable: 0x29,
  SharedSubscriptionAvailable: 0x2a,
} as const

const ALL_CLIENT = In.CONNECT | In.WILL | In.PUBLISH | In.ACK | In.SUBSCRIBE | In.UNSUBSCRIBE | In.DISCONNECT | In.AUTH
const REASON = In.CONNACK | In.ACK | In.SUBACK | In.UNSUBACK | In.DISCONNECT | In.AUTH

function def(name: string, type: PropType, allowed: number, extra: {boolean?: boolean; nonZero?: boolean} = {}): PropDef {
  return Object.freeze({name, type, allowed, ...extra})
}

/** PROPS[id]: the definition, or undefined for an identifier MQTT 5 does not define. */
export const PROPS: ReadonlyArray<PropDef | undefined> = (() => {
  const t: Array<PropDef | undefined> = new Array(0x2b).fill(undefined)
  t[Prop.PayloadFormatIndicator] = def('Payload Format Indicator', PropType.Byte, In.PUBLISH | In.WILL, {boolean: true})
  t[Prop.MessageExpiryInterval] = def('Message Expiry Interval', PropType.FourByte, In.PUBLISH | In.WILL)
  t[Prop.ContentType] = def('Content Type', PropType.String, In.PUBLISH | In.WILL)
  t[Prop.ResponseTopic] = def('Response Topic', PropType.String, In.PUBLISH | In.WILL)
  t[Prop.CorrelationData] = def('Correlation Data', PropType.Binary, In.PUBLISH | In.WILL)
  t[Prop.SubscriptionIdentifier] = def('Subscription Identifier', PropType.VarInt, In.PUBLISH | In.SUBSCRIBE, {nonZero: true})
  t[Prop.SessionExpiryInterval] = def('Session Expiry Interval', PropType.FourByte, In.CONNECT | In.CONNACK | In.DISCONNECT)
  t[Prop.AssignedClientIdentifier] = def('Assigned Client Identifier', PropType.String, In.CONNACK)
  t[Prop.ServerKeepAlive] = def('Server Keep Alive', PropType.TwoByte, In.CONNACK)
  t[Prop.AuthenticationMethod] = def('Authentication Method', PropType.String, In.CONNECT | In.CONNACK | In.AUTH)
  t[Prop.AuthenticationData] = def('Authentication Data', PropType.Binary, In.CONNECT | In.CONNACK | In.AUTH)
  t[Prop.RequestProblemInformation] = def('Request Problem Information', PropType.Byte, In.CONNECT, {boolean: true})
  t[Prop.WillDelayInterval] = def('Will Delay Interval', PropType.FourByte, In.WILL)
  t[Prop.RequestResponseInformation] = def('Request Response Information', PropType.Byte, In.CONNECT, {boolean: true})
  t[Prop.ResponseInformation] = def('Response Information', PropType.String, In.CONNACK)
  t[Prop.ServerReference] = def('Server Reference', PropType.String, In.CONNACK | In.DISCONNECT)
  t[Prop.ReasonString] = def('Reason String', PropType.String, REASON)
  t[Prop.ReceiveMaximum] = def('Receive Maximum', PropType.TwoByte, In.CONNECT | In.CONNACK, {nonZero: true})
  t[Prop.TopicAliasMaximum] = def('Topic Alias Maximum', PropType.TwoByte, In.CONNECT | In.CONNACK)
  t[Prop.TopicAlias] = def('Topic Alias', PropType.TwoByte, In.PUBLISH)
  t[Prop.MaximumQoS] = def('Maximum QoS', PropType.Byte, In.CONNACK)
  t[Prop.RetainAvailable] = def('Retain Available', PropType.Byte, In.CONNACK, {boolean: true})
  t[Prop.UserProperty] = def('User Property', PropType.StringPair, ALL_CLIENT | REASON)
  t[Prop.MaximumPacketSize] = def('Maximum Packet Size', PropType.FourByte, In.CONNECT | In.CONNACK, {nonZero: true})
  t[Prop.WildcardSubscriptionAvailable] = def('Wildcard Subscription Available', PropType.Byte, In.CONNACK, {boolean: true})
  t[Prop.SubscriptionIdentifierAvailable] = def('Subscription Identifier Available', PropType.Byte, In.CONNACK, {boolean: true})
  t[Prop.SharedSubscriptionAvailable] = def('Shared Subscription Available', PropType.Byte, In.CONNACK, {boolean: true})
  return Object.freeze(t)
})()

/** Names of the places in In, for messages. */
export function placeName(where: number): string {
  switch (where) {
    case In.CONNECT:
      return 'CONNECT'
    case In.WILL:
      return 'the Will properties'
    case In.PUBLISH:
      return 'PUBLISH'
    case In.ACK:
      return 'an acknowledgement'
    case In.SUBSCRIBE:
      return 'SUBSCRIBE'
    case In.UNSUBSCRIBE:
      return 'UNSUBSCRIBE'
    case In.DISCONNECT:
      return 'DISCONNECT'
    case In.AUTH:
      return 'AUTH'
    default:
      return 'this packet'
  }
}
