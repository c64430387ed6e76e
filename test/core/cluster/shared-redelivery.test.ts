import assert from 'node:assert/strict'
import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import {collect, until, useCluster} from '../../helpers/cluster.js'

/** A member that never acknowledges: a raw MQTT 5 connection that subscribes and only listens (MQTT.js would stall on an unacknowledged message). */
async function silentMember(port: number, filter: string, qos: 1 | 2): Promise<{payloads: string[]; drop(): void}> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.on('error', () => {})
  const payloads: string[] = []
  let subscribed = false
  const parser = mqttPacket.parser({protocolVersion: 5})
  parser.on('packet', (p) => {
    if (p.cmd === 'suback') subscribed = true
    if (p.cmd === 'publish') payloads.push(String(p.payload))
  })
  socket.on('data', (d) => parser.parse(d))
  socket.write(mqttPacket.generate({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: `silent-${qos}`, keepalive: 60}))
  socket.write(mqttPacket.generate({cmd: 'subscribe', messageId: 1, subscriptions: [{topic: filter, qos}]}, {protocolVersion: 5}))
  await until(() => subscribed, 'the SUBACK of the silent member')
  return {payloads, drop: () => socket.destroy()}
}

describe('cluster: shared subscriptions, QoS 1/2 redelivered across nodes', function () {
  this.timeout(60_000)
  const cluster = useCluster(['node-a', 'node-b', 'node-c'])

  for (const qos of [1, 2] as const) {
    it(`a member on node A leaves without acknowledging: its QoS ${qos} messages go to the member on node B`, async () => {
      const [a, b, c] = cluster.nodes
      const filter = `$share/red${qos}/rd${qos}/#`
      const quiet = await silentMember(a.ports.mqtt, filter, qos)
      const atA = quiet.payloads
      const other = await cluster.client(b.urls.ws, {protocolVersion: 5})
      const atB = collect(other)
      await other.subscribeAsync(filter, {qos})
      const pub = await cluster.client(c.urls.mqtt, {protocolVersion: 5})
      const N = 30
      for (let i = 0; i < N; i++) await pub.publishAsync(`rd${qos}/x`, `m${i}`, {qos})
      await until(() => atA.length + atB.length === N, `${N} messages shared between A and B (A: ${atA.length}, B: ${atB.length})`)
      assert.ok(atA.length > 0, 'NATS gave node A some of them')
      const unacked = [...atA]
      // Gone without PUBACK (its session ends with the connection).
      quiet.drop()
      await until(() => atB.length === N, `the ${unacked.length} unacknowledged messages on B`)
      assert.deepEqual(new Set(atB.map((m) => m.payload)), new Set(Array.from({length: N}, (_, i) => `m${i}`)))
      assert.ok(atB.every((m) => m.packet.qos === qos))
    })
  }
})
