import {Broker} from '../../src/core/broker/broker.js'
import type {BrokerOptions} from '../../src/core/broker/broker.js'
import {resolveConfig} from '../../src/core/config.js'
import type {BrokerConfigInput, Scheme} from '../../src/core/config.js'
import {testCertificate} from './certs.js'

export interface TestBroker {
  broker: Broker
  /** Client URL per scheme, e.g. urls.ws = ws://127.0.0.1:PORT/mqtt */
  urls: Record<Scheme, string>
  ports: Record<Scheme, number>
  close(): Promise<void>
}

export const SCHEMES: readonly Scheme[] = ['mqtt', 'mqtts', 'ws', 'wss']

/** A broker on 127.0.0.1 with one listener per transport, all on ephemeral ports. */
export async function startBroker(input: BrokerConfigInput = {}, options: BrokerOptions = {}): Promise<TestBroker> {
  const cert = await testCertificate()
  const config = resolveConfig({
    listeners: ['mqtt://127.0.0.1:0', 'mqtts://127.0.0.1:0', 'ws://127.0.0.1:0/mqtt', 'wss://127.0.0.1:0/mqtt'],
    tls: {cert: cert.cert, key: cert.key},
    // No $SYS tree unless a test asks: its retained messages would reach tests' $SYS/# subscriptions first.
    sysInterval: 0,
    ...input,
  })
  const broker = new Broker(config, options)
  const infos = await broker.listen()
  const urls = {} as Record<Scheme, string>
  const ports = {} as Record<Scheme, number>
  for (const info of infos) {
    urls[info.scheme] ??= info.url
    ports[info.scheme] ??= info.port
  }
  return {broker, urls, ports, close: () => broker.close()}
}
