/**
 * Every error mqttws raises carries a stable string code (documented in docs/errors.md)
 * so that scripts and the CLI can act on it without parsing messages.
 */
export const ErrorCode = {
  CONFIG: 'MQTTWS_ERR_CONFIG',
  LISTEN_ADDR_IN_USE: 'MQTTWS_ERR_LISTEN_ADDR_IN_USE',
  LISTEN_ACCESS: 'MQTTWS_ERR_LISTEN_ACCESS',
  LISTEN_ADDR_NOT_AVAIL: 'MQTTWS_ERR_LISTEN_ADDR_NOT_AVAIL',
  LISTEN: 'MQTTWS_ERR_LISTEN',
  TLS_FILES: 'MQTTWS_ERR_TLS_FILES',
  PROTOCOL: 'MQTTWS_ERR_PROTOCOL',
  PACKET_TOO_LARGE: 'MQTTWS_ERR_PACKET_TOO_LARGE',
  AUTH: 'MQTTWS_ERR_AUTH',
  /** The broker answered with a failure reason code (CONNACK, SUBACK, PUBACK… >= 0x80). */
  REFUSED: 'MQTTWS_ERR_REFUSED',
  TRANSPORT: 'MQTTWS_ERR_TRANSPORT',
  TIMEOUT: 'MQTTWS_ERR_TIMEOUT',
  /** A session or retained store failed to write (or read) what the broker gave it. */
  STORE: 'MQTTWS_ERR_STORE',
  /** The cluster's NATS servers cannot be reached (at start), or refused what this node sent. */
  CLUSTER: 'MQTTWS_ERR_CLUSTER',
  /** The command line is wrong: an unknown flag or command, a missing or bad value. */
  USAGE: 'MQTTWS_ERR_USAGE',
  /** Anything else: a bug in mqttws. */
  INTERNAL: 'MQTTWS_ERR_INTERNAL',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export interface MqttwsErrorOptions extends ErrorOptions {
  /** MQTT reason code sent (or to send) on the wire, when there is one. */
  reasonCode?: number
}

/** Marks mqttws errors (on the prototype): the same symbol in every copy of this module. */
const kMqttwsError = Symbol.for('mqttws.error')

export class MqttwsError extends Error {
  readonly code: ErrorCode
  readonly reasonCode?: number

  /**
   * `instanceof` also holds for an error made by another copy of this module, matching the
   * class by name: under tsx (mocha, bin/dev.js) a module reached by require and by import()
   * (the lazily loaded transports) is loaded twice.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true
    if (typeof value !== 'object' || value === null || !(kMqttwsError in value)) return false
    for (let p: object | null = Object.getPrototypeOf(value) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
      if (Object.prototype.hasOwnProperty.call(p, 'constructor') && (p as {constructor: {name: string}}).constructor.name === this.name) return true
    }
    return false
  }

  constructor(code: ErrorCode, message: string, options: MqttwsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'MqttwsError'
    this.code = code
    if (options.reasonCode !== undefined) this.reasonCode = options.reasonCode
  }
}

Object.defineProperty(MqttwsError.prototype, kMqttwsError, {value: true})

export class ConfigError extends MqttwsError {
  constructor(message: string, options?: MqttwsErrorOptions) {
    super(ErrorCode.CONFIG, message, options)
    this.name = 'ConfigError'
  }
}

export class ProtocolError extends MqttwsError {
  constructor(message: string, options?: MqttwsErrorOptions & {code?: ErrorCode}) {
    super(options?.code ?? ErrorCode.PROTOCOL, message, options)
    this.name = 'ProtocolError'
  }
}

export class AuthError extends MqttwsError {
  constructor(message: string, options?: MqttwsErrorOptions) {
    super(ErrorCode.AUTH, message, options)
    this.name = 'AuthError'
  }
}

/** The broker said no: a CONNACK, SUBACK or acknowledgement with a failure reason code. */
export class RefusedError extends MqttwsError {
  constructor(message: string, options: MqttwsErrorOptions & {reasonCode: number}) {
    super(ErrorCode.REFUSED, message, options)
    this.name = 'RefusedError'
  }
}

export class TransportError extends MqttwsError {
  constructor(message: string, options?: MqttwsErrorOptions & {code?: ErrorCode}) {
    super(options?.code ?? ErrorCode.TRANSPORT, message, options)
    this.name = 'TransportError'
  }
}

export class TimeoutError extends MqttwsError {
  constructor(message: string, options?: MqttwsErrorOptions) {
    super(ErrorCode.TIMEOUT, message, options)
    this.name = 'TimeoutError'
  }
}

/** A store's commit failed: what it was to write is not stored, and was not acknowledged. */
export class StoreError extends MqttwsError {
  constructor(message: string, options?: MqttwsErrorOptions) {
    super(ErrorCode.STORE, message, options)
    this.name = 'StoreError'
  }
}
