import type {QoS} from '../protocol/codec.js'

export interface ConnectInfo {
  clientId: string
  username?: string
  password?: Buffer
  remote: string
  listenerId?: string
  protocolVersion: number
}

export type AuthResult = {ok: true} | {ok: false; reasonCode: number; reason: string}

/** Authentication and authorization hooks. The default allows everything (a dev box). */
export interface Auth {
  authenticate(c: ConnectInfo): Promise<AuthResult>
  canPublish(clientId: string, topic: string): boolean
  canSubscribe(clientId: string, filter: string, qos: QoS): QoS | false
}

export const allowAll: Auth = Object.freeze({
  authenticate: () => Promise.resolve({ok: true} as const),
  canPublish: () => true,
  canSubscribe: (_c: string, _f: string, qos: QoS) => qos,
})
