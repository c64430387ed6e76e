/**
 * The admin API's routes under /api/v1 (the README, "Listeners and the admin API"): listeners
 * (list, inspect, create, update, delete, start, stop, restart), clients (list, inspect, kick),
 * subscriptions, retained messages, stats and metrics as JSON, auth, cluster, bans
 * (banned.ts). Each handler reads or acts on the Broker and returns a status and a JSON body.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Broker, ListenerUpdate} from '../broker/broker.js'
import {clientInfo, listClients, listSubscriptions, retainedInfo, retainedWithPayload} from './inspect.js'
import {addBan, listBans, removeBan} from './banned.js'
import type {ListenerInput} from '../config.js'
import {ADMIN_PREFIX, HttpError, isObj, readJson, send} from './http-json.js'

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
    GET: (b) => {
      const listeners = b.listenerStatuses()
      return [200, {listeners, totals: b.totals(listeners), auth: b.describeAuth()}]
    },
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

/** Answers an API request that passed the access checks: its route's handler, or 404/405. */
export async function answer(broker: Broker, req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
  const method = req.method ?? 'GET'
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