/**
 * Bookkeeping for the tests of src/core/client: every MqttClient and fake broker a test
 * opens is closed after it, and with `broker: true` one real broker serves the block.
 */
import {MqttClient} from '../../src/core/client/client.js'
import type {ClientOptions} from '../../src/core/client/types.js'
import {startFakeBroker} from '../core/client/fake-broker.js'
import type {FakeBroker, FakeBrokerOptions} from '../core/client/fake-broker.js'
import {startBroker} from './broker.js'
import type {TestBroker} from './broker.js'

export interface ClientSuite {
  /** The block's broker (only with `broker: true`): started in before(), closed in after(). */
  readonly tb: TestBroker
  /** An MQTT 5 client, by default to the block broker's TCP listener; destroyed after the test. */
  connect(options?: Partial<ClientOptions>): Promise<MqttClient>
  /** A scripted broker, closed after the test. */
  fake(options?: FakeBrokerOptions): Promise<FakeBroker>
}

/** Call inside describe(). */
export function useClientSuite(options: {broker?: boolean} = {}): ClientSuite {
  let tb: TestBroker | undefined
  const clients: MqttClient[] = []
  const fakes: FakeBroker[] = []
  if (options.broker) {
    before(async () => {
      tb = await startBroker()
    })
    after(async () => {
      await tb?.close()
    })
  }
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy()
    await Promise.all(fakes.splice(0).map((f) => f.close()))
  })
  const suite: ClientSuite = {
    get tb(): TestBroker {
      if (!tb) throw new Error(options.broker ? 'the block broker is started in before(): use it in hooks and tests' : 'useClientSuite({broker: true}) starts a broker')
      return tb
    },
    async connect(o = {}) {
      const c = await MqttClient.connect({protocolVersion: 5, ...o, url: o.url ?? suite.tb.urls.mqtt})
      clients.push(c)
      return c
    },
    async fake(o = {}) {
      const f = await startFakeBroker(o)
      fakes.push(f)
      return f
    },
  }
  return suite
}
