/** Opens bench clients in batches of 50; on any failure closes those already open. */
import {MqttClient} from '../client/client.js'
import type {BenchPlan} from './plan.js'
import type {BenchTarget} from './run.js'

export async function connectAll(n: number, url: string, plan: BenchPlan, target: Pick<BenchTarget, 'tls'>, prefix: string): Promise<MqttClient[]> {
  const clients: MqttClient[] = []
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({length: Math.min(50, n - i)}, (_, j) =>
        MqttClient.connect({
          url,
          protocolVersion: plan.protocolVersion,
          clientId: `${prefix}-${process.pid}-${i + j}`,
          keepalive: 0,
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

