/**
 * The admin API's bans (issue 13): GET /api/v1/banned lists them, POST /api/v1/banned adds
 * one ({clientId | username | address, regex, until | duration, reason}; the connected
 * clients it covers are disconnected, MQTT 5 with DISCONNECT 0x98), DELETE
 * /api/v1/banned/KIND/VALUE removes one (KIND: clientId, username or address; an address
 * network's "/" may stay as it is or be written %2F).
 */
import type {Broker} from '../broker/broker.js'
import {banInfo} from '../guard/bans.js'
import {BAN_KINDS, resolveBan} from '../guard/config.js'
import type {BanKind} from '../guard/config.js'
import {ConfigError} from '../errors.js'

export class BannedNotFound extends Error {}

export function listBans(b: Broker): [number, unknown] {
  return [200, {banned: b.guard.bans.list().map(banInfo)}]
}

export function addBan(b: Broker, body: unknown): [number, unknown] {
  const spec = resolveBan(body, 'the ban')
  const {ban, disconnected} = b.guard.add(spec, 'api')
  return [201, {ban: banInfo(ban), disconnected}]
}

/** `rest` is "KIND/VALUE", decoded. Throws BannedNotFound when there is no such ban. */
export function removeBan(b: Broker, rest: string): [number, unknown] {
  const slash = rest.indexOf('/')
  const kind = (slash === -1 ? rest : rest.slice(0, slash)) as BanKind
  const value = slash === -1 ? '' : rest.slice(slash + 1)
  if (!BAN_KINDS.includes(kind) || value === '') {
    throw new ConfigError(`DELETE /api/v1/banned/KIND/VALUE: KIND is one of ${BAN_KINDS.join(', ')}, and VALUE the banned value as listed, e.g. /api/v1/banned/clientId/sensor-17`)
  }
  const ban = b.guard.bans.get(kind, value)
  if (ban === undefined || !b.guard.remove(kind, value)) throw new BannedNotFound(`no ${kind} ban "${value}": list the bans with GET /api/v1/banned (or \`mqttws banned\`)`)
  return [200, {removed: banInfo(ban)}]
}
