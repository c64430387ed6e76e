// Aedes (the leading Node.js broker) on loopback, for tools/compare-brokers/compare-brokers.ts: TCP,
// TLS, WebSocket and secure WebSocket listeners on free ports, the TLS ones with the PEM
// certificate and key given as arguments. Prints one JSON line with the ports it bound, then
// serves until it is killed or its parent goes away.
import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {createServer as createTlsServer} from 'node:tls'
import {createServer as createHttpServer} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {Aedes} from 'aedes'
import {WebSocketServer, createWebSocketStream} from 'ws'

const [certFile, keyFile] = process.argv.slice(2)
const tlsOptions = {cert: readFileSync(certFile), key: readFileSync(keyFile)}
const broker = await Aedes.createBroker()

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

// The usual way to put Aedes on WebSocket: a ws server and a stream per connection.
function websocket(server) {
  const wss = new WebSocketServer({server, path: '/mqtt', handleProtocols: (offers) => (offers.has('mqtt') ? 'mqtt' : false)})
  wss.on('connection', (socket) => broker.handle(createWebSocketStream(socket)))
  return server
}

const ports = {
  tcp: await listen(createServer(broker.handle)),
  tls: await listen(createTlsServer(tlsOptions, broker.handle)),
  ws: await listen(websocket(createHttpServer())),
  wss: await listen(websocket(createHttpsServer(tlsOptions))),
}
process.stdout.write(`${JSON.stringify({pid: process.pid, ...ports})}\n`)
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
