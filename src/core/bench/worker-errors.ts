/**
 * Errors across the bench's worker threads: a thread can post only plain data, so a
 * worker sends the message, code and reason code, and the main thread rebuilds the same
 * kind of error (a refused CONNECT stays a RefusedError: exit 3, as on the main thread).
 */
import {ErrorCode, MqttwsError, ProtocolError, RefusedError, TimeoutError, TransportError} from '../errors.js'

export interface WorkerError {
  type: 'error'
  message: string
  code?: string
  reasonCode?: number
}

export function toWorkerError(error: unknown): WorkerError {
  const e = error as {message?: unknown; code?: unknown; reasonCode?: unknown}
  return {
    type: 'error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    ...(typeof e?.code === 'string' ? {code: e.code} : {}),
    ...(typeof e?.reasonCode === 'number' ? {reasonCode: e.reasonCode} : {}),
  }
}

export function fromWorkerError(e: WorkerError): Error {
  const options = e.reasonCode === undefined ? {} : {reasonCode: e.reasonCode}
  switch (e.code) {
    case ErrorCode.REFUSED:
      return new RefusedError(e.message, {reasonCode: e.reasonCode ?? 0x80})
    case ErrorCode.TIMEOUT:
      return new TimeoutError(e.message, options)
    case ErrorCode.PROTOCOL:
      return new ProtocolError(e.message, options)
    case ErrorCode.TRANSPORT:
      return new TransportError(e.message, options)
    default:
      return e.code !== undefined && (Object.values(ErrorCode) as string[]).includes(e.code) ? new MqttwsError(e.code as ErrorCode, e.message, options) : new Error(e.message)
  }
}
