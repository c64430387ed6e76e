/** Read-only views of the broker's sessions for the admin API and the dashboard. */
import type {SubscriptionInfo} from '../api-types.js'
import {parseSharedFilter} from '../protocol/topic.js'
import type {Session} from './session.js'

export type {SubscriptionInfo} from '../api-types.js'

/** Every subscription of every session (or of one client), as the admin API lists them. */
export function listSubscriptions(sessions: ReadonlyMap<string, Session>, clientId?: string): SubscriptionInfo[] {
  const out: SubscriptionInfo[] = []
  const ids = clientId === undefined ? sessions.keys() : [clientId]
  for (const id of ids) {
    const subs = sessions.get(id)?.state.subscriptions
    if (subs === undefined) continue
    for (const [filter, o] of subs) {
      const share = parseSharedFilter(filter)
      const shared = typeof share === 'object' ? share : undefined
      out.push({
        clientId: id,
        filter,
        topic: shared?.filter ?? filter,
        qos: o.qos,
        noLocal: o.noLocal,
        retainAsPublished: o.retainAsPublished,
        retainHandling: o.retainHandling,
        ...(o.subscriptionId === undefined ? {} : {subscriptionId: o.subscriptionId}),
        ...(shared === undefined ? {} : {group: shared.group}),
      })
    }
  }
  return out
}
