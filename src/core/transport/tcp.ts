import net from 'node:net'
import type {Socket} from 'node:net'
import type {ListenerConfig} from '../config.js'
import {listenerUrl} from '../config.js'
import {bind, closeServer} from './bind.js'
import {dialUrl} from './dial-socket.js'
import {newListenerStats} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'
import {admitPending} from './pending.js'
import {admitConnectionRate, pendingLimit, readProxyHeader} from './guard-accept.js'
import {DEFAULT_PORTS} from './schemes.js'
import type {DialOptions, ListenHooks, Listener, Transport} from './types.js'

const kListener = Symbol('listener')

interface TcpServer extends net.Server {
  [kListener]: {config: ListenerConfig; stats: ListenerStats; hooks: ListenHooks}
}

export function remoteOf(socket: Socket): string {
  const a = socket.remoteAddress ?? '?'
  return `${a.includes(':') ? `[${a}]` : a}:${socket.remotePort ?? '?'}`
}

function onTcpConnection(this: TcpServer, socket: Socket): void {
  const ctx = this[kListener]
  const {config, stats, hooks} = ctx
  if (!admitConnectionRate(ctx, socket)) return
  if (!admitPending(stats, socket, pendingLimit(hooks, socket))) {
    refusePending(config.id, hooks, socket)
    return
  }
  socket.setNoDelay(true)
  // Trusted proxies configured: a PROXY protocol header may come first (guard-accept.ts).
  if (hooks.trustedProxies !== undefined) return readProxyHeader(ctx, socket, serveTcp)
  serveTcp(ctx, socket, undefined)
}

function serveTcp(ctx: TcpServer[typeof kListener], socket: Socket, remote: string | undefined): void {
  const {config, stats, hooks} = ctx
  hooks.onConnection({stream: socket, scheme: 'mqtt', remote: remote ?? remoteOf(socket), listenerId: config.id, stats, socket, writeMode: 'concat'})
  // After a PROXY header the socket was paused (what followed it is back in its buffer).
  if (socket.isPaused()) socket.resume()
}

/** Closes a socket past limits.maxPendingPerAddress at once (counted as rejected `max-pending` by admitPending). */
export function refusePending(listenerId: string, hooks: ListenHooks, socket: Socket): void {
  hooks.onRejected(listenerId, 'max-pending', `${remoteOf(socket)}: more than ${hooks.maxPendingPerAddress} sockets from this address have not completed CONNECT (limits.maxPendingPerAddress)`)
  socket.on('error', ignore)
  socket.destroy()
}

function ignore(): void {}

/** MQTT over plain TCP. */
export async function listenTcp(config: ListenerConfig, hooks: ListenHooks, stats: ListenerStats = newListenerStats()): Promise<Listener> {
  const server = net.createServer({noDelay: true}) as TcpServer
  server[kListener] = {config, stats, hooks}
  server.on('connection', onTcpConnection)
  const port = await bind(server, config)
  const info = {id: config.id, scheme: config.scheme, host: config.host, port, url: listenerUrl({...config, port})}
  return {config, info, stats, close: () => closeServer(server)}
}

export const mqttTransport: Transport = Object.freeze({
  scheme: 'mqtt',
  defaultPort: DEFAULT_PORTS.mqtt,
  secure: false,
  websocket: false,
  listen: listenTcp,
  dial: (url: URL, options: DialOptions) => dialUrl(url, 'mqtt', options),
})
