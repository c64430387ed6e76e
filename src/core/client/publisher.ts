/** What `pub` does once connected: send each payload (repeated if asked), wait for every acknowledgement. */
import type {QoS} from '../protocol/codec.js'
import type {PublishProperties} from '../protocol/encode.js'
import type {MqttClient} from './client.js'

export interface PublishPlan {
  topic: string
  qos: QoS
  retain: boolean
  properties?: PublishProperties
  /** Times each payload is sent (default 1). */
  repeat?: number
  /** Pause between repeats. */
  repeatDelayMs?: number
}

export interface SentMessage {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  /** MQTT 5 reason code of the acknowledgement (0 for QoS 0). */
  reasonCode: number
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Publishes every payload from `payloads` (a stream, so stdin lines go out as they come).
 * Acknowledgements are awaited together at the end, so QoS 1/2 messages pipeline up to the
 * broker's Receive Maximum. Rejects on the first refusal or a lost connection.
 */
export async function publishAll(
  client: MqttClient,
  payloads: AsyncIterable<Buffer> | Iterable<Buffer>,
  plan: PublishPlan,
  onSent?: (m: SentMessage) => void,
): Promise<number> {
  const repeat = plan.repeat ?? 1
  const acks: Array<Promise<void>> = []
  let firstError: Error | undefined
  let count = 0
  for await (const payload of payloads) {
    for (let i = 0; i < repeat; i++) {
      if (firstError) throw firstError
      if (i > 0 && plan.repeatDelayMs) await sleep(plan.repeatDelayMs)
      count++
      acks.push(
        client.publishAsync(plan.topic, payload, {qos: plan.qos, retain: plan.retain, properties: plan.properties}).then(
          (reasonCode) => onSent?.({topic: plan.topic, payload, qos: plan.qos, retain: plan.retain, reasonCode}),
          (error: Error) => {
            firstError ??= error
          },
        ),
      )
    }
  }
  await Promise.all(acks)
  if (firstError) throw firstError
  return count
}
