/** Runs the selftest relay on its own thread, so it does not share the generator's. */
import {parentPort} from 'node:worker_threads'
import {startRelay} from './relay.js'

const relay = await startRelay()
parentPort?.postMessage({urls: relay.urls})
parentPort?.on('message', async (m: unknown) => {
  if (m === 'close') {
    await relay.close()
    process.exit(0)
  }
})
