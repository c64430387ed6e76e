/** What the transports need of the guard settings (ListenHooks): built once per broker. */
import type {BrokerConfig} from '../config.js'
import type {ListenHooks} from '../transport/types.js'
import {AddressSet} from './address.js'

export function listenGuardHooks(config: BrokerConfig): Pick<ListenHooks, 'trustedProxies' | 'proxyProtocol' | 'tlsMinVersion' | 'connectionRate'> {
  const g = config.guard
  return {
    ...(g !== undefined && g.trustedProxies.length > 0 ? {trustedProxies: new AddressSet(g.trustedProxies), proxyProtocol: g.proxyProtocol} : {}),
    tlsMinVersion: g?.tlsMinVersion ?? 'TLSv1.2',
    ...(config.limits.connectionRate > 0 ? {connectionRate: config.limits.connectionRate} : {}),
  }
}
