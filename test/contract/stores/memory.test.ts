/** The store contracts on the in-memory stores (the broker's defaults). */
import {MemoryRetainedStore} from '../../../src/core/broker/retained-store.js'
import {MemorySessionStore} from '../../../src/core/broker/session-store.js'
import {retainedStoreContract} from './retained-store.contract.js'
import {sessionStoreContract} from './session-store.contract.js'

sessionStoreContract('memory', async () => ({store: new MemorySessionStore(), close: async () => {}}))
retainedStoreContract('memory', async () => ({store: new MemoryRetainedStore(), close: async () => {}}))
