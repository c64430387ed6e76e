/**
 * A ban added while clients are connected (admin API, flapping): the connected clients it
 * covers are disconnected, MQTT 5 with DISCONNECT 0x98 (Administrative action) and a reason
 * string that says which ban: 0x8A (Banned) is a CONNACK code only, not one DISCONNECT may
 * carry (MQTT 5 §3.14.2.1), and clients such as MQTT.js treat it as a malformed packet.
 * 3.1/3.1.1 clients' sockets are closed. No Will is published for them: a banned client
 * gets nothing more through.
 */
import type {ClientConnection} from '../broker/connection.js'
import {ConnState} from '../broker/types.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import {hostOfRemote} from './address.js'
import type {Ban} from './bans.js'
import {banCovers} from './bans.js'

/** Disconnects the connected clients `ban` covers; returns how many. */
export function disconnectBanned(open: Iterable<ClientConnection>, ban: Ban, reason: string): number {
  let n = 0
  for (const c of [...open]) {
    if (c.state !== ConnState.Connected) continue
    if (!banCovers(ban, {clientId: c.clientId, username: c.username, address: hostOfRemote(c.remote)})) continue
    c.graceful = true
    c.will = undefined
    c.close(ReasonCode.AdministrativeAction, reason)
    n++
  }
  return n
}
