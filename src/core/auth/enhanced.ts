/**
 * What the chain adds around enhanced authentication and WebSocket upgrade checks: an
 * exchange or a check that throws refuses (fail closed), and the upgrade's verdict from the
 * authenticators' answers (the first allow or deny decides; credentials that no
 * authenticator accepts are refused with 401 and `WWW-Authenticate: Bearer error="invalid_token"`).
 */
import type {ConnectInfo, EnhancedAuth, EnhancedStep, UpgradeVerdict} from '../broker/auth.js'
import type {Logger} from '../logger.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import type {Authenticator, Decision} from './types.js'

/** The exchange, with a throwing step turned into a refusal (0x87: try again later). */
export function failClosed(exchange: EnhancedAuth, id: string, log: Logger): EnhancedAuth {
  return {
    method: exchange.method,
    step: (data) =>
      exchange.step(data).catch((error: Error): EnhancedStep => {
        log.warn('authenticator failed', {authenticator: id, method: exchange.method, error: error.message})
        return {done: true, result: {ok: false, reasonCode: ReasonCode.NotAuthorized, reason: `authentication failed (${id}): try again later`}}
      }),
  }
}

function invalidToken(reason: string): UpgradeVerdict {
  return {ok: false, status: 401, reason, headers: {'WWW-Authenticate': `Bearer error="invalid_token", error_description="${reason.replaceAll('"', "'")}"`}}
}

/** Runs the authenticators' upgrade checks in order; undefined (no promise) when none finds credentials in the request. */
export function checkUpgradeWith(
  authenticators: readonly Authenticator[],
  request: NonNullable<ConnectInfo['request']>,
  listenerId: string,
  log: Logger,
): Promise<UpgradeVerdict> | undefined {
  let start = -1
  let first: Promise<Decision> | undefined
  for (let i = 0; i < authenticators.length && first === undefined; i++) {
    first = authenticators[i].checkUpgrade?.(request)
    start = i
  }
  if (first === undefined) return undefined
  const firstCheck = first
  return (async (): Promise<UpgradeVerdict> => {
    for (let i = start; i < authenticators.length; i++) {
      const a = authenticators[i]
      const p = i === start ? firstCheck : a.checkUpgrade?.(request)
      if (p === undefined) continue
      let d: Decision
      try {
        d = await p
      } catch (error) {
        log.warn('authenticator failed', {authenticator: a.id, listener: listenerId, error: (error as Error).message})
        return {ok: false, status: 503, reason: `authentication failed (${a.id}): try again later`}
      }
      if (d.result === 'allow') return {ok: true}
      if (d.result === 'deny') {
        // 0x87 from a token check: the keys could not be fetched (jwt.ts); the token may be fine.
        return d.reasonCode === ReasonCode.NotAuthorized ? {ok: false, status: 503, reason: d.reason, headers: {'Retry-After': '5'}} : invalidToken(d.reason)
      }
    }
    return invalidToken('the token is not valid (signature, algorithm or key)')
  })()
}
