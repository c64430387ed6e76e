/**
 * The HTTP admin API of a running broker: listeners (list, inspect, create, update, delete,
 * start, stop, restart, with their counters), clients (list, inspect, kick), subscriptions,
 * retained messages, metrics (JSON, and Prometheus at /metrics), and the dashboard's static
 * files. JSON in and out, the token on every API request (a bearer token, or the dashboard's
 * HttpOnly SameSite=Strict cookie), cross-site requests refused, loopback by default. Routes
 * and errors are documented in the README ("Listeners and the admin API", "Dashboard").
 * Core: it never prints and never reads files or the environment; the CLI decides where the
 * token comes from and where it is written, and hands over the dashboard's files.
 */
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import http from 'node:http'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Broker, ListenerUpdate} from '../broker/broker.js'
import {ListenerOpError} from '../broker/broker.js'
import {clientInfo, listClients, listSubscriptions, retainedInfo, retainedWithPayload} from './inspect.js'
import {PROMETHEUS_CONTENT_TYPE, renderPrometheus} from './prometheus.js'
import {BannedNotFound, addBan, listBans, removeBan} from './banned.js'
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

/** The dashboard's sign-in cookie. Its value is derived from the token, never the token itself. */
export const SESSION_COOKIE = 'mqttws_admin'

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

type Handler = (broker: Broker, id: string | undefined, body: unknown, query: URLSearchParams) => Promise<[number, unknown]> | [number, unknown]

function notConnected(id: string): HttpError {
  return new HttpError(404, 'not_found', `no client "${id}" is connected: list them with GET ${ADMIN_PREFIX}/clients (or \`mqttws clients\`)`)
}

async function kick(b: Broker, id: string): Promise<[number, unknown]> {
  const before = clientInfo(b, id)
  if (!(await b.kick(id))) throw notConnected(id)
  return [200, {kicked: true, client: before}]
}

function retainedTopic(b: Broker, topic: string): Promise<[number, unknown]> {
  return b.retainedMessages(topic).then((found) => {
    const m = found.find((x) => x.topic === topic)
    if (m === undefined) throw new HttpError(404, 'not_found', `no retained message on "${topic}": list them with GET ${ADMIN_PREFIX}/retained`)
    return [200, retainedWithPayload(m)] as [number, unknown]
  })
}

const ACTIONS: Record<string, (broker: Broker, id: string) => Promise<unknown>> = {
  start: (b, id) => b.startListener(id),
  stop: (b, id) => b.stopListener(id),
  restart: (b, id) => b.restartListener(id),
}

const ROUTES: Record<string, Partial<Record<string, Handler>>> = {
  root: {GET: (b) => [200, {name: 'mqttws', api: 1, listeners: b.listenerTable.size}]},
  stats: {GET: (b) => [200, b.totals()]},
  metrics: {
    GET: (b) => {
      const totals = b.totals()
      return [200, {...totals, subscriptions: b.subscriptionCount(), retained: b.retainedCount(), at: new Date().toISOString()}]
    },
  },
  clients: {GET: (b) => [200, {clients: listClients(b)}]},
  client: {
    GET: (b, id) => {
      const info = clientInfo(b, id!)
      if (info === undefined) throw new HttpError(404, 'not_found', `no client or session "${id}": list them with GET ${ADMIN_PREFIX}/clients`)
      return [200, {...info, subscriptionList: b.subscriptions(id!)}]
    },
    DELETE: (b, id) => kick(b, id!),
  },
  kick: {POST: (b, id) => kick(b, id!)},
  subscriptions: {GET: (b, _id, _body, query) => [200, {subscriptions: listSubscriptions(b, query)}]},
  retainedList: {
    GET: async (b, _id, _body, query) => {
      const filter = query.get('filter') ?? undefined
      const list = (await b.retainedMessages(filter)).map(retainedInfo).sort((x, y) => (x.topic < y.topic ? -1 : 1))
      return [200, {retained: list}]
    },
    DELETE: async (b) => {
      const all = await b.retainedMessages('#')
      let deleted = 0
      for (const m of all) if (b.deleteRetained(m.topic)) deleted++
      return [200, {deleted}]
    },
  },
  retainedOne: {
    GET: (b, topic) => retainedTopic(b, topic!),
    DELETE: (b, topic) => {
      if (!b.deleteRetained(topic!)) throw new HttpError(404, 'not_found', `no retained message on "${topic}": list them with GET ${ADMIN_PREFIX}/retained`)
      return [200, {deleted: 1, topic}]
    },
  },
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
  cluster: {GET: (b) => [200, b.cluster() ?? {node: null, nodes: [], connected: false, clustered: false}]},
  authReload: {
    POST: async (b) => {
      const results = await b.reloadAuth()
      const failed = Array.isArray(results) && results.some((r: {ok?: boolean}) => r.ok === false)
      return [failed ? 500 : 200, {reloaded: results}]
    },
  },
}
ROUTES.one.PUT = ROUTES.one.PATCH
// Bans (issue 13): banned.ts.
ROUTES.banned = {GET: (b) => listBans(b), POST: (b, _id, body) => addBan(b, body)}
ROUTES.bannedOne = {DELETE: (b, rest) => removeBan(b, rest!)}

const PATTERNS: Array<[RegExp, string]> = [
  [/^\/api\/v1\/?$/, 'root'],
  [/^\/api\/v1\/stats$/, 'stats'],
  [/^\/api\/v1\/metrics$/, 'metrics'],
  [/^\/api\/v1\/listeners$/, 'list'],
  [/^\/api\/v1\/listeners\/([^/]+)$/, 'one'],
  [/^\/api\/v1\/listeners\/([^/]+)\/([a-z]+)$/, 'action'],
  [/^\/api\/v1\/clients$/, 'clients'],
  [/^\/api\/v1\/clients\/([^/]+)$/, 'client'],
  [/^\/api\/v1\/clients\/([^/]+)\/kick$/, 'kick'],
  [/^\/api\/v1\/subscriptions$/, 'subscriptions'],
  [/^\/api\/v1\/retained$/, 'retainedList'],
  [/^\/api\/v1\/retained\/(.+)$/, 'retainedOne'],
  [/^\/api\/v1\/auth$/, 'auth'],
  [/^\/api\/v1\/cluster$/, 'cluster'],
  [/^\/api\/v1\/auth\/reload$/, 'authReload'],
  [/^\/api\/v1\/banned$/, 'banned'],
  [/^\/api\/v1\/banned\/(.+)$/, 'bannedOne'],
]

function route(path: string): {key: string; id?: string; action?: string} | undefined {
  for (const [re, key] of PATTERNS) {
    const m = re.exec(path)
    if (!m) continue
    if (m[1] === undefined) return {key}
    let id: string
    try {
      id = decodeURIComponent(m[1])
    } catch {
      return undefined
    }
    return {key, id, action: m[2]}
  }
  return undefined
}

/** The cookie value for a token: a digest, so the cookie never carries the token itself. */
function cookieValue(token: string): string {
  return createHash('sha256').update(`mqttws-admin-session\u0000${token}`).digest('base64url')
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i !== -1 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}

function same(a: string, b: Buffer): boolean {
  return timingSafeEqual(digest(a), b)
}

interface Keys {
  token: Buffer
  cookie: Buffer
  metricsToken: Buffer | undefined
  metricsPublic: boolean
}

/** How the request proves it may use the API: 'bearer', 'cookie', or undefined. */
function credentials(req: IncomingMessage, keys: Keys): 'bearer' | 'cookie' | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')
  if (m && same(m[1].trim(), keys.token)) return 'bearer'
  const c = readCookie(req, SESSION_COOKIE)
  if (c !== undefined && same(c, keys.cookie)) return 'cookie'
  return undefined
}

function unauthorized(req: IncomingMessage, res: ServerResponse): HttpError {
  res.setHeader('WWW-Authenticate', 'Bearer realm="mqttws"')
  const bearer = /^Bearer\s+/i.test(req.headers.authorization ?? '')
  return new HttpError(
    401,
    'unauthorized',
    bearer
      ? 'the bearer token is wrong: use the token serve printed at start (also in its token file)'
      : 'missing "Authorization: Bearer TOKEN" (or the dashboard\'s sign-in cookie): use the token serve printed at start (also in its token file)',
  )
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Refuses cross-site requests (CSRF): a browser says where a request comes from in
 * Sec-Fetch-Site and Origin; anything but this origin is refused, and a state-changing
 * request authenticated by the cookie must say it comes from here.
 */
function checkSameOrigin(req: IncomingMessage, via: 'bearer' | 'cookie' | undefined): void {
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new HttpError(403, 'cross_site', `cross-site request refused (Sec-Fetch-Site: ${site}): the admin API answers only its own dashboard and clients with the token`)
  }
  const origin = req.headers.origin
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) {
    throw new HttpError(403, 'cross_site', `cross-site request refused (Origin: ${origin}): the admin API answers only its own dashboard and clients with the token`)
  }
  if (via === 'cookie' && !SAFE_METHODS.has(req.method ?? 'GET') && origin === undefined && site !== 'same-origin') {
    throw new HttpError(403, 'cross_site', 'a state-changing request signed in by cookie must come from the dashboard (Origin or Sec-Fetch-Site missing)')
  }
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

async function signIn(req: IncomingMessage, res: ServerResponse, keys: Keys): Promise<void> {
  const method = req.method ?? 'GET'
  const via = credentials(req, keys)
  checkSameOrigin(req, via)
  if (method === 'GET') {
    if (via === undefined) throw unauthorized(req, res)
    return send(res, 200, {signedIn: true})
  }
  if (method === 'DELETE') {
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`)
    return send(res, 200, {signedIn: false})
  }
  if (method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${ADMIN_PREFIX}/session takes GET, POST, DELETE, not ${method}`)
  // Signing in is itself state-changing: it must come from this origin.
  if (req.headers.origin === undefined && req.headers['sec-fetch-site'] !== 'same-origin') {
    throw new HttpError(403, 'cross_site', 'sign in from the dashboard (Origin or Sec-Fetch-Site missing); API clients send "Authorization: Bearer TOKEN" instead')
  }
  const body = await readJson(req)
  const token = isObj(body) && typeof body.token === 'string' ? body.token.trim() : ''
  if (token === '' || !same(token, keys.token)) {
    throw new HttpError(401, 'unauthorized', 'the token is wrong: use the token serve printed at start (also in its token file)')
  }
  res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${cookieValue(token)}; Path=/; HttpOnly; SameSite=Strict`)
  send(res, 200, {signedIn: true})
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
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')
    const scraper = keys.metricsToken !== undefined && m !== null && same(m[1].trim(), keys.metricsToken)
    if (via === undefined && !scraper && !keys.metricsPublic) throw unauthorized(req, res)
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', `/metrics takes GET, not ${method}`)
    const text = renderPrometheus(broker, (Date.now() - startedAt) / 1000)
    res.writeHead(200, {'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store'})
    return void res.end(method === 'HEAD' ? undefined : text)
  }
  const via = credentials(req, keys)
  if (via === undefined) throw unauthorized(req, res)
  checkSameOrigin(req, via)
  const r = route(path)
  if (r === undefined) throw new HttpError(404, 'no_route', `no route ${method} ${path}: the API lives under ${ADMIN_PREFIX}/ (listeners, clients, subscriptions, retained, banned, metrics; see the README)`)
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
  const [status, out] = await handler(broker, r.id, body, query)
  send(res, status, out)
}

/** Starts the admin API for `broker`; rejects with a TransportError when the address cannot be bound. */
export async function startAdmin(broker: Broker, options: AdminOptions): Promise<AdminServer> {
  const log = options.logger ?? noopLogger
  const keys: Keys = {
    token: digest(options.token),
    cookie: digest(cookieValue(options.token)),
    metricsToken: options.metrics?.token === undefined ? undefined : digest(options.metrics.token),
    metricsPublic: options.metrics?.public === true,
  }
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
