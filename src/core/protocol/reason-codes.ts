/** MQTT 5 reason codes (spec §2.4) and the MQTT 3.1.1 CONNACK return codes the broker uses. */
export const ReasonCode = {
  Success: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWill: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const
export type ReasonCode = (typeof ReasonCode)[keyof typeof ReasonCode]

/** MQTT 3.1/3.1.1 CONNACK return codes. */
export const ConnackReturnCode = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const

/**
 * Maps an MQTT 5 CONNACK reason code to the closest 3.1.1 return code, or undefined when
 * 3.1.1 has none for it (a malformed or forbidden CONNECT, a Will the broker cannot take):
 * then the connection is just closed, as MQTT 3.1.1 §3.2.2.3 has no code to send.
 */
export function toV3ConnackCode(reason: number): number | undefined {
  switch (reason) {
    case ReasonCode.MalformedPacket:
    case ReasonCode.ProtocolError:
    case ReasonCode.TopicNameInvalid:
    case ReasonCode.PacketTooLarge:
    case ReasonCode.RetainNotSupported:
    case ReasonCode.QoSNotSupported:
      return undefined
    case ReasonCode.Success:
      return ConnackReturnCode.Accepted
    case ReasonCode.UnsupportedProtocolVersion:
      return ConnackReturnCode.UnacceptableProtocolVersion
    case ReasonCode.ClientIdentifierNotValid:
      return ConnackReturnCode.IdentifierRejected
    case ReasonCode.BadUserNameOrPassword:
    case ReasonCode.BadAuthenticationMethod:
      return ConnackReturnCode.BadUserNameOrPassword
    case ReasonCode.NotAuthorized:
    case ReasonCode.Banned:
      return ConnackReturnCode.NotAuthorized
    default:
      return ConnackReturnCode.ServerUnavailable
  }
}

const NAMES = new Map<number, string>(
  Object.entries(ReasonCode).map(([name, code]) => [code, name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase()]),
)

/** "0x87 not authorized" — for messages and logs. */
export function describeReasonCode(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`
  const name = NAMES.get(code)
  return name ? `${hex} ${name}` : hex
}
