/**
 * The admin API's HTTP basics: where it lives, JSON request bodies in (bounded), JSON answers
 * out, and errors as statuses with {error: {status, code, message}}.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import {ListenerOpError} from '../broker/broker.js'
import {BannedNotFound} from './banned.js'
import {ErrorCode, MqttwsError} from '../errors.js'

export const ADMIN_PREFIX = '/api/v1'
/** Largest request body accepted (PEM certificates fit easily). */
export const MAX_BODY_BYTES = 1024 * 1024

/** An error answered with a status and {error: {code, message}}. */
export class HttpError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** A JSON answer (one line), never cached. */
export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, {'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store'})
  res.end(text)
}

/** The request's JSON body (undefined when empty); 413 past MAX_BODY_BYTES, 400 when not JSON. */
export function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (d: Buffer) => {
      size += d.length
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'body_too_large', `the request body is over ${MAX_BODY_BYTES} bytes`))
        req.destroy()
        return
      }
      chunks.push(d)
    })
    req.on('error', reject)
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim()
      if (text === '') return resolve(undefined)
      try {
        resolve(JSON.parse(text))
      } catch (error) {
        reject(new HttpError(400, 'bad_json', `the request body is not JSON (${(error as Error).message}): send e.g. {"url": "ws://127.0.0.1:9001/mqtt"}`))
      }
    })
  })
}

/** A JSON object (not an array). */
export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Maps a core error to a status: unknown id 404, state or address conflicts 409, bad input 400. */
export function statusOf(error: unknown): {status: number; code: string; message: string} {
  if (error instanceof HttpError) return {status: error.status, code: error.code, message: error.message}
  if (error instanceof BannedNotFound) return {status: 404, code: 'not_found', message: error.message}
  if (error instanceof ListenerOpError) return {status: error.status, code: error.status === 404 ? 'not_found' : 'conflict', message: error.message}
  // By code, not instanceof: a lazily imported transport may see its own copy of errors.js under a loader.
  const code = (error as Partial<MqttwsError>).code
  if (error instanceof MqttwsError || (typeof code === 'string' && code.startsWith('MQTTWS_ERR_'))) {
    const message = (error as Error).message
    switch (code) {
      case ErrorCode.CONFIG:
      case ErrorCode.TLS_FILES:
      case ErrorCode.LISTEN_ADDR_NOT_AVAIL:
        return {status: 400, code: 'bad_request', message}
      case ErrorCode.LISTEN_ADDR_IN_USE:
        return {status: 409, code: 'address_in_use', message}
      case ErrorCode.LISTEN_ACCESS:
        return {status: 403, code: 'forbidden', message}
      default:
        return {status: 500, code: 'internal', message}
    }
  }
  return {status: 500, code: 'internal', message: `internal error: ${(error as Error).message}`}
}
