/**
 * Who may use the admin API: the token as a bearer token, or the dashboard's sign-in cookie
 * (HttpOnly, SameSite=Strict, a digest of the token, never the token itself) set by
 * /api/v1/session; cross-site requests refused (CSRF); GET /metrics also for a
 * scraper's own token, or for anyone when public.
 */
import {createHash, timingSafeEqual} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {ADMIN_PREFIX, HttpError, isObj, readJson, send} from './http-json.js'

/** The dashboard's sign-in cookie. Its value is derived from the token, never the token itself. */
export const SESSION_COOKIE = 'mqttws_admin'

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
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

export interface Keys {
  token: Buffer
  cookie: Buffer
  metricsToken: Buffer | undefined
  metricsPublic: boolean
}

/** The digests a request's credentials are compared with, made once at start. */
export function makeKeys(token: string, metrics: {token?: string; public?: boolean} | undefined): Keys {
  return {
    token: digest(token),
    cookie: digest(cookieValue(token)),
    metricsToken: metrics?.token === undefined ? undefined : digest(metrics.token),
    metricsPublic: metrics?.public === true,
  }
}

/** How the request proves it may use the API: 'bearer', 'cookie', or undefined. */
export function credentials(req: IncomingMessage, keys: Keys): 'bearer' | 'cookie' | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')
  if (m && same(m[1].trim(), keys.token)) return 'bearer'
  const c = readCookie(req, SESSION_COOKIE)
  if (c !== undefined && same(c, keys.cookie)) return 'cookie'
  return undefined
}

export function unauthorized(req: IncomingMessage, res: ServerResponse): HttpError {
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
export function checkSameOrigin(req: IncomingMessage, via: 'bearer' | 'cookie' | undefined): void {
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

/** Whether a request may read GET /metrics: the admin token or cookie, the scraper's token, or anyone when public. */
export function mayReadMetrics(req: IncomingMessage, keys: Keys, via: 'bearer' | 'cookie' | undefined): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')
  const scraper = keys.metricsToken !== undefined && m !== null && same(m[1].trim(), keys.metricsToken)
  return via !== undefined || scraper || keys.metricsPublic
}

/** /api/v1/session: GET says whether signed in, POST signs in with the token (sets the cookie), DELETE signs out. */
export async function signIn(req: IncomingMessage, res: ServerResponse, keys: Keys): Promise<void> {
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
