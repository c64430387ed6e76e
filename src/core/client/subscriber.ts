/** What `sub` does once connected: subscribe, hand over messages, stop on count, time or signal. */
import {RefusedError} from '../errors.js'
import type {IPublishPacket} from '../protocol/codec.js'
import {describeReasonCode} from '../protocol/reason-codes.js'
import type {MqttClient} from './client.js'
import type {Subscription} from './types.js'

export interface SubscribePlan {
  subscriptions: Subscription[]
  /** MQTT 5 subscription identifier. */
  subscriptionId?: number
  userProperties?: Record<string, string | string[]>
  /** Stop after this many messages were handed over. */
  count?: number
  /** Stop after this long. */
  timeoutMs?: number
  /** -R: drop messages that arrive with the retain flag (stale state). */
  skipRetained?: boolean
  /** Hand over only retained messages; stop at the first live one or after `retainedQuietMs` without any. */
  retainedOnly?: boolean
  retainedQuietMs?: number
  /** Clear every retained message received (publish an empty retained message to its topic). */
  removeRetained?: boolean
  /** Topics matching any of these are not handed over (-T). */
  filterOut?: string[]
  /** Called with the SUBACK codes once every subscription was granted. */
  onSubscribed?: (codes: number[]) => void
}

const EMPTY = Buffer.alloc(0)

export type StopReason = 'count' | 'timeout' | 'signal' | 'retained-done' | 'closed'

export interface SubscribeResult {
  received: number
  reason: StopReason
  error?: Error
}

/**
 * Subscribes and resolves when the plan says stop. A refused subscription rejects with a
 * RefusedError naming the filter and reason code.
 */
export async function runSubscriber(
  client: MqttClient,
  plan: SubscribePlan,
  onMessage: (packet: IPublishPacket) => void,
  signal?: AbortSignal,
): Promise<SubscribeResult> {
  const {topicMatches} = await import('../protocol/topic.js')
  let received = 0
  let finish!: (reason: StopReason, error?: Error) => void
  const done = new Promise<SubscribeResult>((resolve) => {
    finish = (reason, error) => resolve({received, reason, error})
  })
  let quiet: NodeJS.Timeout | undefined
  const armQuiet = (): void => {
    if (!plan.retainedOnly) return
    if (quiet) clearTimeout(quiet)
    quiet = setTimeout(() => finish('retained-done'), plan.retainedQuietMs ?? 500)
  }
  // The order of mosquitto_sub: a live message ends --retained-only; -R and -T messages are
  // neither printed nor cleared by --remove-retained (so -T protects topics from it).
  const onPacket = (p: IPublishPacket): void => {
    if (plan.count !== undefined && received >= plan.count) return
    if (plan.retainedOnly) {
      if (!p.retain) return finish('retained-done')
      armQuiet()
    } else if (p.retain && plan.skipRetained) return
    if (plan.filterOut?.some((f) => topicMatches(f, p.topic))) return
    if (p.retain && plan.removeRetained && p.payload.length > 0) client.publish(p.topic, EMPTY, {qos: 1, retain: true})
    received++
    onMessage(p)
    if (plan.count !== undefined && received >= plan.count) finish('count')
  }
  const onClose = (error: Error | undefined): void => finish('closed', error)
  const onAbort = (): void => finish('signal')
  client.on('message', onPacket)
  client.once('close', onClose)
  signal?.addEventListener('abort', onAbort, {once: true})
  const timer = plan.timeoutMs === undefined ? undefined : setTimeout(() => finish('timeout'), plan.timeoutMs)
  try {
    const properties =
      plan.subscriptionId !== undefined || plan.userProperties ? {subscriptionIdentifier: plan.subscriptionId, userProperties: plan.userProperties} : undefined
    const codes = await client.subscribe(plan.subscriptions, properties)
    codes.forEach((code, i) => {
      if (code >= 0x80) {
        throw new RefusedError(`subscription to "${plan.subscriptions[i].topic}" refused with ${describeReasonCode(code)}`, {reasonCode: code})
      }
    })
    plan.onSubscribed?.(codes)
    armQuiet()
    return await done
  } finally {
    client.off('message', onPacket)
    client.off('close', onClose)
    signal?.removeEventListener('abort', onAbort)
    if (timer) clearTimeout(timer)
    if (quiet) clearTimeout(quiet)
  }
}
