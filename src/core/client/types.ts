/**
 * What a caller gives MqttClient and gets from it: the connect options, the publish and
 * subscribe options, and the events. Types only, so every client module can share them.
 */
import type {IConnackPacket, IConnectPacket, IDisconnectPacket, IPublishPacket, ProtocolVersion, QoS} from '../protocol/codec.js'
import type {PublishProperties} from '../protocol/encode.js'
import type {DialOptions} from '../transport/dial.js'
import type {InflightStore} from './inflight-store.js'

export type ConnectProperties = NonNullable<IConnectPacket['properties']>
export type ConnackProperties = NonNullable<IConnackPacket['properties']>

export interface WillOptions {
  topic: string
  payload: Buffer | string
  qos?: QoS
  retain?: boolean
  properties?: NonNullable<NonNullable<IConnectPacket['will']>['properties']>
}

export interface ClientOptions {
  url: string | URL
  /** 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0 (default). */
  protocolVersion?: ProtocolVersion
  /** Empty: the broker assigns one (3.1 gets a random id, since it has no such feature). */
  clientId?: string
  /** Clean session / clean start (default true). */
  clean?: boolean
  /** Seconds (default 60; 0 disables). */
  keepalive?: number
  username?: string
  password?: string | Buffer
  /** MQTT 5 enhanced authentication with username and password: SCRAM-SHA-256 or SCRAM-SHA-512 (the password never leaves). */
  authMethod?: string
  will?: WillOptions
  /** MQTT 5 CONNECT properties: session expiry, receive maximum, user properties… */
  properties?: ConnectProperties
  dial?: DialOptions
  /** Time allowed for the transport and CONNACK together (default 10 s). */
  connectTimeoutMs?: number
  inflightStore?: InflightStore
  /** Called with one line per packet sent and received (pub/sub -d); none: no cost. */
  trace?: (line: string) => void
}

export interface PublishOptions {
  qos?: QoS
  retain?: boolean
  dup?: boolean
  properties?: PublishProperties
}

export interface Subscription {
  topic: string
  qos: QoS
  /** MQTT 5 no local. */
  nl?: boolean
  /** MQTT 5 retain as published. */
  rap?: boolean
  /** MQTT 5 retain handling: 0 always, 1 if new, 2 never. */
  rh?: 0 | 1 | 2
}

export interface ClientEvents {
  message: [packet: IPublishPacket]
  /** The broker sent DISCONNECT (MQTT 5), e.g. 0x8E session taken over. */
  disconnect: [packet: IDisconnectPacket]
  /** The connection is gone; `error` says why when it was not our own end(). */
  close: [error: Error | undefined]
}
