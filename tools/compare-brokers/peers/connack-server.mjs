// The floor of a Node.js MQTT broker's connection cost, for tools/compare-brokers: a TCP (or
// WebSocket, with `ws`) server on loopback that answers each client's first bytes with an MQTT
// 3.1.1 CONNACK and otherwise only holds the connection. Accepting, reading and writing is
// what every Node broker pays per connection before any MQTT work. Prints one JSON line
// {pid, tcp, ws} with the ports, then serves until killed or its parent goes away.
import {createServer} from 'node:net'
import {createServer as createHttpServer} from 'node:http'
import {WebSocketServer} from 'ws'

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00])

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

const tcp = createServer({noDelay: true}, (socket) => {
  socket.once('data', () => socket.write(CONNACK))
  socket.on('error', () => socket.destroy())
})

const http = createHttpServer()
const wss = new WebSocketServer({server: http, path: '/mqtt', clientTracking: false, handleProtocols: (offers) => (offers.has('mqtt') ? 'mqtt' : false)})
wss.on('connection', (ws) => {
  ws.once('message', () => ws.send(CONNACK))
  ws.on('error', () => ws.terminate())
})

process.stdout.write(`${JSON.stringify({pid: process.pid, tcp: await listen(tcp), ws: await listen(http)})}\n`)
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
