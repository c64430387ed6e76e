/**
 * `bench --selftest`: the generator's own ceiling, measured with the same plan against
 * the trivial relay on its own thread (tcp and ws only; QoS 0, as the relay acknowledges nothing).
 */
import {Worker} from 'node:worker_threads'
import type {BenchPlan, BenchTransport} from './plan.js'
import {resolvePlan} from './plan.js'
import type {TransportResult} from './result.js'
import {runBench} from './run.js'

export async function measureCeiling(plan: BenchPlan): Promise<TransportResult[]> {
  const transports = plan.transports.filter((t): t is BenchTransport => t === 'tcp' || t === 'ws')
  if (transports.length === 0) return []
  const worker = new Worker(new URL('./relay-worker.js', import.meta.url))
  try {
    const urls = await new Promise<{tcp: string; ws: string}>((resolve, reject) => {
      worker.once('message', (m: {urls: {tcp: string; ws: string}}) => resolve(m.urls))
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`the selftest relay exited with ${code}`)))
    })
    const relayPlan = resolvePlan({...plan, transports, qos: 0})
    const result = await runBench(relayPlan, {urls})
    return result.results
  } finally {
    worker.postMessage('close')
    await worker.terminate()
  }
}

/** Transports where the broker came within 2× of the generator's ceiling. */
export function nearCeiling(results: TransportResult[], ceiling: TransportResult[]): Array<{transport: string; broker: number; ceiling: number}> {
  const out: Array<{transport: string; broker: number; ceiling: number}> = []
  for (const c of ceiling) {
    const r = results.find((x) => x.transport === c.transport)
    if (r && c.recv_per_s > 0 && r.recv_per_s * 2 >= c.recv_per_s) out.push({transport: c.transport, broker: r.recv_per_s, ceiling: c.recv_per_s})
  }
  return out
}
