/** What `serve` tells the operator about clients: connects, disconnects, refusals. */
import type {Broker} from '../core/broker/broker.js'
import type {Logger} from '../core/logger.js'
import {LogThrottle} from '../core/log-throttle.js'
import {ErrorCode, MqttwsError} from '../core/errors.js'
import {describeReasonCode} from '../core/protocol/reason-codes.js'

export function attachBrokerLogging(broker: Broker, log: Logger): void {
  broker.on('client', (c) =>
    log.info('client connected', {clientId: c.clientId, remote: c.remote, listener: c.conn.listenerId, mqtt: c.version === 5 ? '5.0' : c.version === 4 ? '3.1.1' : '3.1'}),
  )
  broker.on('clientDisconnect', (c) => {
    if (c.clientId) log.info('client disconnected', {clientId: c.clientId, remote: c.remote, reason: c.closeReason})
  })
  // Refused CONNECTs (wrong passwords, bad tokens) come in storms: the first few per 10 s are logged, then one summary line.
  const refusals = new LogThrottle(log, {what: 'refused CONNECTs'})
  broker.on('clientError', (c, error) => {
    const fields = {clientId: c.clientId || undefined, remote: c.remote, error: error.message}
    if (error instanceof MqttwsError && error.code === ErrorCode.AUTH) refusals.note('warn', describeReasonCode(error.reasonCode ?? 0), 'client refused', fields)
    else log.warn('client error', fields)
  })
}
