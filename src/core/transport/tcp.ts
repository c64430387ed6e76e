import net from 'node:net'
import type {Socket} from 'node:net'
import type {ListenerConfig} from '../config.js'
import {listenerUrl} from '../config.js'
import {bind, closeServer} from './bind.js'
import {dialUrl} from './dial-socket.js'
import {newListenerStats} from './listener-stats.js'
import type {ListenerStats} from './listener-stats.js'
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
  const {config, stats, hooks} = this[kListener]
  socket.setNoDelay(true)
  hooks.onConnection({stream: socket, scheme: 'mqtt', remote: remoteOf(socket), listenerId: config.id, stats, socket, writeMode: 'concat'})
}

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
