/** What `serve` tells the operator about clients: connects, disconnects, refusals. */
import type {Broker} from '../core/broker/broker.js'
import type {Logger} from '../core/logger.js'

export function attachBrokerLogging(broker: Broker, log: Logger): void {
  broker.on('client', (c) =>
    log.info('client connected', {clientId: c.clientId, remote: c.remote, listener: c.conn.listenerId, mqtt: c.version === 5 ? '5.0' : c.version === 4 ? '3.1.1' : '3.1'}),
  )
  broker.on('clientDisconnect', (c) => {
    if (c.clientId) log.info('client disconnected', {clientId: c.clientId, remote: c.remote, reason: c.closeReason})
  })
  broker.on('clientError', (c, error) => log.warn('client error', {clientId: c.clientId || undefined, remote: c.remote, error: error.message}))
}
