/** Opens bench clients in batches of 50; on any failure closes those already open. */
import {MqttClient} from '../client/client.js'
import type {BenchPlan} from './plan.js'
import {urlFor} from './plan.js'
import type {DialTls} from '../transport/dial.js'

/** How bench clients reach and log in to the broker (BenchTarget without its URLs). */
export interface BenchAccess {
  tls?: DialTls
  username?: string
  password?: string
}

/** Client k goes to urlFor(url, first + k) (several brokers of one transport: round-robin). */
export async function connectAll(n: number, url: string, plan: BenchPlan, target: BenchAccess, prefix: string, first = 0): Promise<MqttClient[]> {
  const clients: MqttClient[] = []
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({length: Math.min(50, n - i)}, (_, j) =>
        MqttClient.connect({
          url: urlFor(url, first + i + j),
          protocolVersion: plan.protocolVersion,
          clientId: `${prefix}-${process.pid}-${i + j}`,
          keepalive: 0,
          username: target.username,
          password: target.password,
          dial: {tls: target.tls, framing: plan.wsFraming, deflate: plan.wsDeflate, countTlsBytes: true},
        }),
      )
      clients.push(...(await Promise.all(batch)))
    }
  } catch (error) {
    await Promise.all(clients.map((c) => c.end()))
    throw error
  }
  return clients
}

