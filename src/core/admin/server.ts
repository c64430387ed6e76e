/**
 * The HTTP admin API of a running broker: list, inspect, create, update, delete, start,
 * stop and restart listeners, with their counters. JSON in and out, a bearer token on
 * every request, loopback by default. Routes and errors are documented in the README
 * ("Listeners and the admin API"). Core: it never prints and never reads files or the
 * environment; the CLI decides where the token comes from and where it is written.
 */
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import http from 'node:http'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Broker, ListenerUpdate} from '../broker/broker.js'
import {ListenerOpError} from '../broker/broker.js'
import type {ListenerInput} from '../config.js'
import {ErrorCode, MqttwsError, TransportError} from '../errors.js'
import type {Logger} from '../logger.js'
import {noopLogger} from '../logger.js'

export const ADMIN_PREFIX = '/api/v1'
/** Largest request body accepted (PEM certificates fit easily). */
export const MAX_BODY_BYTES = 1024 * 1024

export interface AdminOptions {
  host: string
  /** 0 picks a free port. */
  port: number
  /** The bearer token; generateToken() makes one. */
  token: string
  logger?: Logger
}

export interface AdminServer {
  /** http://HOST:PORT with the real port. */
  readonly url: string
  readonly host: string
  readonly port: number
  close(): Promise<void>
}

/** 32 random bytes, base64url: what `serve` uses when no token is configured. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url')
}

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

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, {'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store'})
  res.end(text)
}

function readJson(req: IncomingMessage): Promise<unknown> {
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

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Maps a core error to a status: unknown id 404, state or address conflicts 409, bad input 400. */
function statusOf(error: unknown): {status: number; code: string; message: string} {
  if (error instanceof HttpError) return {status: error.status, code: error.code, message: error.message}
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

type Handler = (broker: Broker, id: string | undefined, body: unknown) => Promise<[number, unknown]> | [number, unknown]

const ACTIONS: Record<string, (broker: Broker, id: string) => Promise<unknown>> = {
  start: (b, id) => b.startListener(id),
  stop: (b, id) => b.stopListener(id),
  restart: (b, id) => b.restartListener(id),
}

const ROUTES: Record<string, Partial<Record<string, Handler>>> = {
  root: {GET: (b) => [200, {name: 'mqttws', api: 1, listeners: b.listenerTable.size}]},
  stats: {GET: (b) => [200, b.totals()]},
  list: {
    GET: (b) => [200, {listeners: b.listenerStatuses(), totals: b.totals(), auth: b.describeAuth()}],
    POST: async (b, _id, body) => {
      if (!isObj(body)) throw new HttpError(400, 'bad_request', 'send a JSON object with at least url, e.g. {"url": "ws://127.0.0.1:9001/mqtt"}')
      const {start, ...input} = body
      if (start !== undefined && typeof start !== 'boolean') throw new HttpError(400, 'bad_request', '"start" must be true or false')
      if (typeof input.url !== 'string') throw new HttpError(400, 'bad_request', 'missing "url": the listener URL, e.g. mqtt://127.0.0.1:1884 or ws://127.0.0.1:9001/mqtt')
      return [201, await b.createListener(input as unknown as ListenerInput, {start: start !== false})]
    },
  },
  one: {
    GET: (b, id) => [200, b.listenerStatus(id!)],
    PATCH: async (b, id, body) => {
      if (!isObj(body)) throw new HttpError(400, 'bad_request', 'send a JSON object with url, ws or tls, e.g. {"ws": {"piggyback": true}}')
      return [200, await b.updateListener(id!, body as ListenerUpdate)]
    },
    DELETE: async (b, id) => [200, await b.deleteListener(id!)],
  },
  auth: {GET: (b) => [200, b.describeAuth()]},
  authReload: {
    POST: async (b) => {
      const results = await b.reloadAuth()
      const failed = Array.isArray(results) && results.some((r: {ok?: boolean}) => r.ok === false)
      return [failed ? 500 : 200, {reloaded: results}]
    },
  },
}
ROUTES.one.PUT = ROUTES.one.PATCH

function route(path: string): {key: string; id?: string; action?: string} | undefined {
  if (path === ADMIN_PREFIX || path === `${ADMIN_PREFIX}/`) return {key: 'root'}
  if (path === `${ADMIN_PREFIX}/stats`) return {key: 'stats'}
  if (path === `${ADMIN_PREFIX}/listeners`) return {key: 'list'}
  if (path === `${ADMIN_PREFIX}/auth`) return {key: 'auth'}
  if (path === `${ADMIN_PREFIX}/auth/reload`) return {key: 'authReload'}
  const m = /^\/api\/v1\/listeners\/([^/]+)(?:\/([a-z]+))?$/.exec(path)
  if (!m) return undefined
  let id: string
  try {
    id = decodeURIComponent(m[1])
  } catch {
    return undefined
  }
  return m[2] === undefined ? {key: 'one', id} : {key: 'action', id, action: m[2]}
}

async function handle(broker: Broker, expected: Buffer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const auth = req.headers.authorization ?? ''
  const m = /^Bearer\s+(.+)$/i.exec(auth)
  if (!m || !timingSafeEqual(digest(m[1].trim()), expected)) {
    res.setHeader('WWW-Authenticate', 'Bearer realm="mqttws"')
    throw new HttpError(
      401,
      'unauthorized',
      m
        ? 'the bearer token is wrong: use the token serve printed at start (also in its token file)'
        : 'missing "Authorization: Bearer TOKEN": use the token serve printed at start (also in its token file)',
    )
  }
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  const r = route(path)
  if (r === undefined) throw new HttpError(404, 'no_route', `no route ${req.method} ${path}: the API lives under ${ADMIN_PREFIX}/listeners (see the README)`)
  const method = req.method ?? 'GET'
  if (r.key === 'action') {
    const action = ACTIONS[r.action!]
    if (action === undefined) throw new HttpError(404, 'no_route', `no action "${r.action}": use start, stop or restart`)
    if (method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${r.action} takes POST, not ${method}`)
    await readJson(req)
    return send(res, 200, await action(broker, r.id!))
  }
  const handler = ROUTES[r.key][method]
  if (handler === undefined) {
    const allowed = Object.keys(ROUTES[r.key])
    res.setHeader('Allow', allowed.join(', '))
    throw new HttpError(405, 'method_not_allowed', `${path} takes ${allowed.join(', ')}, not ${method}`)
  }
  const body = method === 'GET' || method === 'DELETE' ? undefined : await readJson(req)
  const [status, out] = await handler(broker, r.id, body)
  send(res, status, out)
}

/** Starts the admin API for `broker`; rejects with a TransportError when the address cannot be bound. */
export async function startAdmin(broker: Broker, options: AdminOptions): Promise<AdminServer> {
  const log = options.logger ?? noopLogger
  const expected = digest(options.token)
  const server = http.createServer((req, res) => {
    handle(broker, expected, req, res).catch((error: unknown) => {
      const e = statusOf(error)
      if (e.status >= 500) log.error('admin API error', {method: req.method, url: req.url, error: e.message})
      else if (log.debugEnabled) log.debug('admin API request refused', {method: req.method, url: req.url, status: e.status, error: e.message})
      if (res.headersSent) return void res.destroy()
      send(res, e.status, {error: {status: e.status, code: e.code, message: e.message}})
    })
  })
  server.keepAliveTimeout = 1000
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`
      reject(
        new TransportError(
          error.code === 'EADDRINUSE'
            ? `the admin API cannot listen on ${where}: the port is in use (EADDRINUSE; another mqttws serve?); choose another admin address, or port 0 for a free one`
            : `the admin API cannot listen on ${where}: ${error.message}`,
          {code: error.code === 'EADDRINUSE' ? ErrorCode.LISTEN_ADDR_IN_USE : ErrorCode.LISTEN, cause: error},
        ),
      )
    })
    server.listen({host: options.host, port: options.port, exclusive: true}, () => {
      const addr = server.address()
      resolve(typeof addr === 'object' && addr ? addr.port : options.port)
    })
  })
  const host = options.host
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
