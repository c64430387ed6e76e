/**
 * The HTTP admin API of a running broker: listeners (list, inspect, create, update, delete,
 * start, stop, restart, with their counters), clients (list, inspect, kick), subscriptions,
 * retained messages, metrics (JSON, and Prometheus at /metrics), and the dashboard's static
 * files. JSON in and out, the token on every API request (a bearer token, or the dashboard's
 * HttpOnly SameSite=Strict cookie), cross-site requests refused, loopback by default. Routes
 * and errors are documented in the README ("Listeners and the admin API", "Dashboard").
 * Core: it never prints and never reads files or the environment; the CLI decides where the
 * token comes from and where it is written, and hands over the dashboard's files.
 * This file: the HTTP server, the dashboard's files and /metrics; who may ask is access.ts,
 * the API's routes routes.ts, JSON and errors http-json.ts.
 */
import {randomBytes} from 'node:crypto'
import http from 'node:http'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Broker} from '../broker/broker.js'
import {PROMETHEUS_CONTENT_TYPE, renderPrometheus} from './prometheus.js'
import {TransportError, ErrorCode} from '../errors.js'
import type {Logger} from '../logger.js'
import {noopLogger} from '../logger.js'
import {checkSameOrigin, credentials, makeKeys, mayReadMetrics, signIn, unauthorized} from './access.js'
import type {Keys} from './access.js'
import {ADMIN_PREFIX, HttpError, send, statusOf} from './http-json.js'
import {answer} from './routes.js'

export {ADMIN_PREFIX, HttpError, MAX_BODY_BYTES} from './http-json.js'
export {SESSION_COOKIE} from './access.js'

export interface AdminOptions {
  host: string
  /** 0 picks a free port. */
  port: number
  /** The bearer token; generateToken() makes one. */
  token: string
  logger?: Logger
  /**
   * Who may read GET /metrics (Prometheus): always the admin token; also `token` when given
   * (a scraper's own token); anyone when `public` is true.
   */
  metrics?: {token?: string; public?: boolean}
  /** The dashboard's files by URL path ('/index.html', '/app.js', …), served at / without the token; absent: no dashboard. */
  dashboard?: ReadonlyMap<string, DashboardAsset>
}

export interface DashboardAsset {
  type: string
  body: Buffer
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

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
}

function serveAsset(res: ServerResponse, method: string, asset: DashboardAsset): void {
  res.writeHead(200, {'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Cache-Control': 'no-cache', ...SECURITY_HEADERS})
  res.end(method === 'HEAD' ? undefined : asset.body)
}

async function handle(broker: Broker, keys: Keys, startedAt: number, dashboard: ReadonlyMap<string, DashboardAsset> | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1))
  const method = req.method ?? 'GET'
  if (!path.startsWith(`${ADMIN_PREFIX}`) && path !== '/metrics' && dashboard !== undefined && (method === 'GET' || method === 'HEAD')) {
    const asset = dashboard.get(path === '/' ? '/index.html' : path)
    if (asset !== undefined) return serveAsset(res, method, asset)
  }
  if (path === `${ADMIN_PREFIX}/session`) return signIn(req, res, keys)
  if (path === '/metrics') {
    const via = credentials(req, keys)
    checkSameOrigin(req, via)
    if (!mayReadMetrics(req, keys, via)) throw unauthorized(req, res)
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', `/metrics takes GET, not ${method}`)
    const text = renderPrometheus(broker, (Date.now() - startedAt) / 1000)
    res.writeHead(200, {'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store'})
    return void res.end(method === 'HEAD' ? undefined : text)
  }
  const via = credentials(req, keys)
  if (via === undefined) throw unauthorized(req, res)
  checkSameOrigin(req, via)
  return answer(broker, req, res, path, query)
}

/** Starts the admin API for `broker`; rejects with a TransportError when the address cannot be bound. */
export async function startAdmin(broker: Broker, options: AdminOptions): Promise<AdminServer> {
  const log = options.logger ?? noopLogger
  const keys = makeKeys(options.token, options.metrics)
  const startedAt = Date.now()
  const server = http.createServer((req, res) => {
    handle(broker, keys, startedAt, options.dashboard, req, res).catch((error: unknown) => {
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
