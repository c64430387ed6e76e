// Aedes (the leading Node.js broker) on loopback, for tools/compare-brokers/compare-brokers.ts: one TCP and
// one WebSocket listener on the ports given (0 = any free port). Prints one JSON line with the
// ports it bound, then serves until it is killed or its parent goes away.
import {createServer} from 'node:net'
import {createServer as createHttpServer} from 'node:http'
import {Aedes} from 'aedes'
import {WebSocketServer, createWebSocketStream} from 'ws'

const [tcpPort = '0', wsPort = '0'] = process.argv.slice(2)
const broker = await Aedes.createBroker()

const tcp = createServer(broker.handle)
await new Promise((resolve) => tcp.listen(Number(tcpPort), '127.0.0.1', resolve))

// The usual way to put Aedes on WebSocket: a ws server and a stream per connection.
const http = createHttpServer()
const wss = new WebSocketServer({server: http, path: '/mqtt', handleProtocols: (offers) => (offers.has('mqtt') ? 'mqtt' : false)})
wss.on('connection', (socket) => broker.handle(createWebSocketStream(socket)))
await new Promise((resolve) => http.listen(Number(wsPort), '127.0.0.1', resolve))

process.stdout.write(`${JSON.stringify({pid: process.pid, tcp: tcp.address().port, ws: http.address().port})}\n`)
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
