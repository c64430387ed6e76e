/**
 * What the broker adds around any Auth: a refused authentication counts on its listener
 * (CONNECT only), and a PUBLISH or Will to a reserved "$" topic is refused unless the
 * authorizer grants it (canPublishReserved; by default superusers only) or
 * limits.allowReservedTopics is set. The refusal is the authorizer's: PUBACK/PUBREC 0x87,
 * CONNACK 0x87 (3.1.1: return code 5).
 */
import type {Logger} from '../logger.js'
import {isReservedTopic, reservedTopicProblem} from '../protocol/topic.js'
import type {Auth, AuthResult, EnhancedAuth, EnhancedStep} from './auth.js'
import {isPromise} from '../maybe-async.js'

export interface AuthGuardOptions {
  allowReservedTopics: boolean
  log: Logger
  /** A CONNECT on this listener was refused (with this reason code). */
  refused: (listenerId: string, reasonCode?: number) => void
}

export function guardAuth(auth: Auth, o: AuthGuardOptions): Auth {
  const canPublish = auth.canPublish.bind(auth)
  return {
    authenticate: (c) => {
      const result = auth.authenticate(c)
      const count = (r: AuthResult): AuthResult => {
        if (!r.ok && c.listenerId !== undefined) o.refused(c.listenerId, r.reasonCode)
        return r
      }
      return isPromise(result) ? result.then(count) : count(result)
    },
    ...(auth.enhanced === undefined ? {} : {enhanced: countingEnhanced(auth, o)}),
    ...(auth.checkUpgrade === undefined ? {} : {checkUpgrade: auth.checkUpgrade.bind(auth)}),
    canPublish: o.allowReservedTopics
      ? canPublish
      : (p, topic, qos, retain) => {
          if (isReservedTopic(topic) && !(auth.canPublishReserved?.(p, topic, qos, retain) ?? p.superuser)) {
            if (o.log.debugEnabled) o.log.debug('publish refused', {clientId: p.clientId, topic, reason: reservedTopicProblem(topic)})
            return false
          }
          return canPublish(p, topic, qos, retain)
        },
    canSubscribe: auth.canSubscribe.bind(auth),
    ...(auth.disconnectOnDeny === undefined ? {} : {disconnectOnDeny: auth.disconnectOnDeny.bind(auth)}),
  }
}

/** Enhanced authentication, with a refusal at the end of a CONNECT's exchange counted like any other. */
function countingEnhanced(auth: Auth, o: AuthGuardOptions): NonNullable<Auth['enhanced']> {
  return (method, c, reauth) => {
    const exchange = auth.enhanced!(method, c, reauth)
    if (exchange === undefined || c.listenerId === undefined || reauth !== undefined) return exchange
    const listenerId = c.listenerId
    return {
      method: exchange.method,
      step: (data): Promise<EnhancedStep> =>
        exchange.step(data).then((s) => {
          if (s.done && !s.result.ok) o.refused(listenerId, s.result.reasonCode)
          return s
        }),
    } satisfies EnhancedAuth
  }
}
