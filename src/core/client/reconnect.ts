/**
 * `sub --reconnect`: a subscriber for long-running use. When the connection is lost it
 * connects again after a backoff (1 s, doubling to 30 s; back to 1 s once subscribed) and
 * subscribes again; -C and -W count across connections. Without `reconnect` it is one
 * runSubscriber on one connection.
 */
import {ConfigError, RefusedError} from '../errors.js'
import type {IPublishPacket} from '../protocol/codec.js'
import type {MqttClient} from './client.js'
import {runSubscriber} from './subscriber.js'
import type {SubscribePlan, SubscribeResult} from './subscriber.js'

export interface ReconnectOptions {
  reconnect: boolean
  /** First wait and longest wait (default 1 s and 30 s). */
  minDelayMs?: number
  maxDelayMs?: number
  /** Told before each wait: why, and how long. */
  onReconnecting?: (error: Error, delayMs: number) => void
  /** Told after each connection (the first and every reconnection). */
  onConnected?: (client: MqttClient) => void
}

/** Failures a new attempt may fix: not a refusal by the broker, nor a wrong setting. */
function retryable(error: unknown): boolean {
  return !(error instanceof RefusedError) && !(error instanceof ConfigError)
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, {once: true})
  })
}

/**
 * Connects with `connect` (the first client may be given, already connected), runs the plan,
 * and with `reconnect` starts over when the connection is lost. Resolves like runSubscriber,
 * with the messages of every connection counted.
 */
export async function runSubscriberReconnecting(
  connect: () => Promise<MqttClient>,
  first: MqttClient | undefined,
  plan: SubscribePlan,
  onMessage: (packet: IPublishPacket) => void,
  signal: AbortSignal | undefined,
  options: ReconnectOptions,
): Promise<SubscribeResult> {
  const minDelay = options.minDelayMs ?? 1000
  const maxDelay = options.maxDelayMs ?? 30_000
  const deadline = plan.timeoutMs === undefined ? undefined : Date.now() + plan.timeoutMs
  let received = 0
  let delay = minDelay
  let client = first
  for (;;) {
    if (client === undefined) {
      try {
        client = await connect()
        options.onConnected?.(client)
      } catch (error) {
        if (!options.reconnect || !retryable(error) || signal?.aborted) throw error
        options.onReconnecting?.(error as Error, delay)
        await sleep(delay, signal)
        delay = Math.min(maxDelay, delay * 2)
        if (signal?.aborted) return {received, reason: 'signal'}
        continue
      }
    }
    let result: SubscribeResult
    try {
      result = await runSubscriber(
        client,
        {
          ...plan,
          count: plan.count === undefined ? undefined : plan.count - received,
          timeoutMs: deadline === undefined ? undefined : Math.max(1, deadline - Date.now()),
          onSubscribed: (codes) => {
            delay = minDelay
            plan.onSubscribed?.(codes)
          },
        },
        onMessage,
        signal,
      )
    } finally {
      await client.end()
    }
    received += result.received
    if (result.reason !== 'closed' || !options.reconnect || signal?.aborted) return {...result, received}
    client = undefined
    options.onReconnecting?.(result.error ?? new Error('the connection closed'), delay)
    await sleep(delay, signal)
    delay = Math.min(maxDelay, delay * 2)
    if (signal?.aborted) return {received, reason: 'signal'}
    if (deadline !== undefined && Date.now() >= deadline) return {received, reason: 'timeout'}
  }
}
