/**
 * The HTTP client of `mqttws listeners`: finds the admin API and its token (flag, env,
 * token file), sends one request, and turns every failure into an error that says what
 * to do. node:http only.
 */
import http from 'node:http'
import {readFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {Flags} from '@oclif/core'
import {DEFAULTS, parseAdminUrl} from '../core/config.js'
import {AuthError, ConfigError, ErrorCode, MqttwsError, TransportError} from '../core/errors.js'
import type {ListenerRates, ListenerRow} from './render.js'
import {renderListenerLine, renderListenersTable} from './render.js'

export const DEFAULT_ADMIN_URL = `http://${DEFAULTS.admin.host}:${DEFAULTS.admin.port}`

/** Flags every `listeners` command shares. */
export const adminClientFlags = {
  admin: Flags.string({summary: `Admin API of the broker (default ${DEFAULT_ADMIN_URL}).`, env: 'MQTTWS_ADMIN', helpGroup: 'ADMIN'}),
  token: Flags.string({summary: 'Bearer token (default: $MQTTWS_ADMIN_TOKEN, then the token file serve wrote).', env: 'MQTTWS_ADMIN_TOKEN', helpGroup: 'ADMIN'}),
  'token-file': Flags.string({summary: 'File holding the token (default: the one serve wrote for that port).', env: 'MQTTWS_ADMIN_TOKEN_FILE', helpGroup: 'ADMIN'}),
}

/** Where `serve` writes, and `listeners` reads, the token of the admin API on `port`. */
export function defaultTokenFile(port: number, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'mqttws') : join(homedir(), '.mqttws')
  return join(dir, `admin-${port}.token`)
}

export interface AdminTarget {
  url: string
  token: string | undefined
  /** Where the token came from, for error messages. */
  tokenSource: string
}

export async function resolveAdminTarget(flags: {admin?: string; token?: string; 'token-file'?: string}): Promise<AdminTarget> {
  const text = flags.admin ?? DEFAULT_ADMIN_URL
  const {host, port} = parseAdminUrl(text)
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  if (flags.token) return {url, token: flags.token, tokenSource: '--token / MQTTWS_ADMIN_TOKEN'}
  const file = flags['token-file'] ?? defaultTokenFile(port)
  try {
    const token = (await readFile(file, 'utf8')).trim()
    return {url, token: token || undefined, tokenSource: `the token file ${file}`}
  } catch {
    return {url, token: undefined, tokenSource: `none (no --token, no MQTTWS_ADMIN_TOKEN, no token file at ${file})`}
  }
}

interface Reply {
  status: number
  body: unknown
}

function request(target: AdminTarget, method: string, path: string, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${target.url}${path}`,
      {
        method,
        headers: {
          Accept: 'application/json',
          ...(target.token ? {Authorization: `Bearer ${target.token}`} : {}),
          ...(payload ? {'Content-Type': 'application/json', 'Content-Length': payload.length} : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (d: Buffer) => chunks.push(d))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown
          try {
            parsed = text === '' ? undefined : JSON.parse(text)
          } catch {
            return reject(new TransportError(`${target.url} answered, but not with JSON (HTTP ${res.statusCode}): is it an mqttws admin API? Check --admin`))
          }
          resolve({status: res.statusCode ?? 0, body: parsed})
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new TransportError(`${target.url} did not answer within 10 s`, {code: ErrorCode.TIMEOUT})))
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof MqttwsError) return reject(error)
      if (error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET' || error.code === 'EHOSTUNREACH' || error.code === 'ENOTFOUND') {
        return reject(new TransportError(`no mqttws broker answers at ${target.url}: start one with \`mqttws serve\``, {cause: error}))
      }
      reject(new TransportError(`cannot reach the admin API at ${target.url}: ${error.message}`, {cause: error}))
    })
    req.end(payload)
  })
}

/**
 * One API call; resolves with the JSON body of a 2xx answer. A 401 is an AuthError (exit 3),
 * 400/404 a ConfigError (exit 2: the request was wrong), anything else a TransportError (exit 1).
 */
export async function callAdmin<T = unknown>(target: AdminTarget, method: string, path: string, body?: unknown): Promise<T> {
  const reply = await request(target, method, path, body)
  if (reply.status >= 200 && reply.status < 300) return reply.body as T
  const message = (reply.body as {error?: {message?: string}} | undefined)?.error?.message ?? `HTTP ${reply.status}`
  if (reply.status === 401) {
    throw new AuthError(`the admin API at ${target.url} refused the request: ${message}. Token used: ${target.tokenSource}; pass --token or set MQTTWS_ADMIN_TOKEN`)
  }
  if (reply.status === 400 || reply.status === 404 || reply.status === 413) throw new ConfigError(message)
  throw new TransportError(message)
}

export function listenerPath(id?: string, action?: string): string {
  return `/api/v1/listeners${id === undefined ? '' : `/${encodeURIComponent(id)}`}${action === undefined ? '' : `/${action}`}`
}

export interface AddFlags {
  id?: string
  'tls-cert'?: string
  'tls-key'?: string
  'tls-ca'?: string
  'ws-path'?: string
  'ws-subprotocols'?: string
  'ws-allow-no-subprotocol'?: boolean
  'ws-piggyback'?: boolean
  'ws-origins'?: string
  stopped?: boolean
}

const list = (s: string): string[] => s.split(',').map((v) => v.trim()).filter(Boolean)

/** The POST /api/v1/listeners body for `listeners add`: TLS files are read here and sent as PEM. */
export async function buildAddBody(url: string, flags: AddFlags): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {url}
  if (flags.id !== undefined) body.id = flags.id
  if (flags.stopped) body.start = false
  const ws: Record<string, unknown> = {}
  if (flags['ws-path'] !== undefined) ws.path = flags['ws-path']
  if (flags['ws-subprotocols'] !== undefined) ws.subprotocols = list(flags['ws-subprotocols'])
  if (flags['ws-allow-no-subprotocol'] !== undefined) ws.allowNoSubprotocol = flags['ws-allow-no-subprotocol']
  if (flags['ws-piggyback'] !== undefined) ws.piggyback = flags['ws-piggyback']
  if (flags['ws-origins'] !== undefined) ws.origins = list(flags['ws-origins'])
  if (Object.keys(ws).length > 0) body.ws = ws
  if (flags['tls-cert'] && flags['tls-key']) {
    const read = async (file: string, what: string): Promise<string> => {
      try {
        return await readFile(file, 'utf8')
      } catch (error) {
        throw new ConfigError(`cannot read the ${what} ${file}: ${(error as Error).message}`)
      }
    }
    body.tls = {
      cert: await read(flags['tls-cert'], 'certificate'),
      key: await read(flags['tls-key'], 'key'),
      ...(flags['tls-ca'] ? {ca: await read(flags['tls-ca'], 'CA bundle')} : {}),
    }
  }
  return body
}

interface Sample {
  at: number
  rows: ListenerRow[]
}

function ratesBetween(a: Sample, b: Sample): ListenerRates {
  const dt = (b.at - a.at) / 1000
  const before = new Map(a.rows.map((r) => [r.id, r]))
  const out: ListenerRates = new Map()
  if (dt <= 0) return out
  for (const r of b.rows) {
    const p = before.get(r.id)
    if (!p) continue
    out.set(r.id, {
      msgsIn: Math.max(0, r.messages.published - p.messages.published) / dt,
      msgsOut: Math.max(0, r.messages.delivered - p.messages.delivered) / dt,
      bytesIn: Math.max(0, r.bytes.in - p.bytes.in) / dt,
      bytesOut: Math.max(0, r.bytes.out - p.bytes.out) / dt,
    })
  }
  return out
}

/**
 * `listeners --watch`: on a terminal, redraws the table in place every interval with rates;
 * otherwise prints plain lines per listener per tick. Runs until `stop` resolves.
 */
export async function watchListeners(target: AdminTarget, intervalMs: number, write: (text: string) => void, stop: Promise<unknown>, tty = process.stdout.isTTY === true): Promise<void> {
  let stopped = false
  void stop.then(() => (stopped = true))
  let previous: Sample | undefined
  let timer: NodeJS.Timeout | undefined
  const wake = new Promise<void>((resolve) => void stop.then(() => {
    if (timer) clearTimeout(timer)
    resolve()
  }))
  // Column widths only grow while watching, so the numbers do not jump left and right.
  const keep: number[] = []
  if (tty) write('\u001B[?25l')
  try {
    while (!stopped) {
      const result = await callAdmin<{listeners: ListenerRow[]}>(target, 'GET', listenerPath())
      const sample = {at: Date.now(), rows: result.listeners}
      const rates = previous ? ratesBetween(previous, sample) : undefined
      previous = sample
      if (tty) {
        const clock = new Date(sample.at).toISOString().slice(11, 19)
        const columns = process.stdout.columns > 0 ? process.stdout.columns : undefined
        write(`\u001B[H\u001B[2J${target.url}  ${clock} UTC  (Ctrl-C to stop)\n\n${renderListenersTable(sample.rows, rates, {maxWidth: columns, keep})}\n`)
      } else {
        const time = new Date(sample.at).toISOString()
        write(`${sample.rows.map((r) => renderListenerLine(time, r, rates)).join('\n')}\n`)
      }
      await Promise.race([wake, new Promise<void>((resolve) => (timer = setTimeout(resolve, intervalMs)))])
    }
  } finally {
    if (tty) write('\u001B[?25h')
  }
}
