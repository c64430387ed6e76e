/**
 * The HTTP authorizer, on EMQX's contract: POST a JSON body made from a template
 * (${action} ${topic} ${qos} ${retain} ${clientid} ${username} ${peerhost} in its values) and
 *   200 {"result": "allow"|"deny"|"ignore"} decides (ignore: the next source, then noMatch),
 *   204 allows,
 *   any other status, a timeout or an unreadable answer refuses: it fails closed, where EMQX
 *   would ignore.
 * Answers are remembered per client (principal) and request for cacheTtlMs; failures are not.
 */
import {peerHost} from '../auth/http.js'
import type {Principal} from '../broker/auth.js'
import {answerObject, postJson} from '../http-answer.js'
import type {Logger} from '../logger.js'
import type {HttpAuthorizerConfig} from './config.js'
import type {Action, Permission} from './rule.js'

interface Answer {
  until: number
  permission: Permission | undefined
}

/** At most this many remembered answers per client (then it starts over). */
const PER_CLIENT = 256

export class HttpAuthorizer {
  private readonly cache = new WeakMap<Principal, Map<string, Answer>>()
  private readonly stats = {requests: 0, cacheHits: 0, failures: 0}
  /** Bumped by clear(): answers remembered before are ignored. */
  private generation = 0
  private readonly generations = new WeakMap<Principal, number>()

  constructor(
    private readonly config: HttpAuthorizerConfig,
    private readonly log: Logger,
  ) {}

  /** A remembered answer at once, or a promise of the service's (undefined: ignore). */
  check(p: Principal, action: Action, topic: string, qos: number, retain: boolean): Permission | undefined | Promise<Permission | undefined> {
    const key = `${action}\n${qos}\n${retain ? 1 : 0}\n${topic}`
    const answers = this.answersOf(p)
    const hit = answers.get(key)
    if (hit !== undefined && hit.until > Date.now()) {
      this.stats.cacheHits++
      return hit.permission
    }
    return this.ask(p, action, topic, qos, retain).then((permission) => {
      if (permission !== 'failed' && this.config.cacheTtlMs > 0) {
        if (answers.size >= PER_CLIENT) answers.clear()
        answers.set(key, {until: Date.now() + this.config.cacheTtlMs, permission})
      }
      return permission === 'failed' ? 'deny' : permission
    })
  }

  /** Forgets every remembered answer (reload). */
  clear(): void {
    this.generation++
  }

  describe(): Record<string, unknown> {
    return {url: this.config.url, timeoutMs: this.config.timeoutMs, cacheTtlMs: this.config.cacheTtlMs, ...this.stats}
  }

  private answersOf(p: Principal): Map<string, Answer> {
    let answers = this.cache.get(p)
    if (answers === undefined || this.generations.get(p) !== this.generation) {
      answers = new Map()
      this.cache.set(p, answers)
      this.generations.set(p, this.generation)
    }
    return answers
  }

  private async ask(p: Principal, action: Action, topic: string, qos: number, retain: boolean): Promise<Permission | undefined | 'failed'> {
    const c = this.config
    const values: Record<string, string> = {
      // EMQX's actions: a delivery is what a subscription receives.
      action: action === 'publish' ? 'publish' : 'subscribe',
      topic,
      qos: String(qos),
      retain: String(retain),
      clientid: p.clientId,
      username: p.username ?? '',
      peerhost: p.remote === undefined ? '' : peerHost(p.remote),
    }
    const body: Record<string, string> = {}
    for (const [k, v] of Object.entries(c.body)) body[k] = v.replace(/\$\{([a-z_]+)\}/g, (all, name: string) => values[name] ?? all)
    this.stats.requests++
    try {
      const answer = await postJson(c.url, c.headers, JSON.stringify(body), c.timeoutMs)
      if (answer.status === 204) return 'allow'
      if (answer.status !== 200) return this.failed(`the authorization service answered HTTP ${answer.status}`, p, topic)
      const result = answerObject(answer.text)?.result
      if (result === 'allow' || result === 'deny') return result
      if (result === 'ignore') return undefined
      return this.failed(`the authorization service answered result ${JSON.stringify(result)}: expected allow, deny or ignore`, p, topic)
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError'
      return this.failed(timedOut ? `the authorization service did not answer within ${c.timeoutMs} ms` : `the authorization service cannot be reached: ${(error as Error).message}`, p, topic)
    }
  }

  private failed(reason: string, p: Principal, topic: string): 'failed' {
    this.stats.failures++
    this.log.warn(`${reason}: refused`, {clientId: p.clientId, topic})
    return 'failed'
  }
}
