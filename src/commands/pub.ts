import {Flags} from '@oclif/core'
import {MqttClient} from '../core/client/client.js'
import {parseUserProperty, userProperties} from '../core/client/options.js'
import {publishAll} from '../core/client/publisher.js'
import type {SentMessage} from '../core/client/publisher.js'
import {ConfigError, MqttwsError} from '../core/errors.js'
import type {QoS} from '../core/protocol/codec.js'
import type {PublishProperties} from '../core/protocol/encode.js'
import {topicNameProblem} from '../core/protocol/topic.js'
import {BaseCommand} from '../cli/base-command.js'
import {createCliLogger} from '../cli/logger.js'
import {clientOptionsFromFlags, connectionFlags, topicFromUrl} from '../cli/client-flags.js'
import {countPayloadSources, payloadsFrom} from '../cli/payload-source.js'
import {askText, canPrompt} from '../cli/prompt.js'

export default class Pub extends BaseCommand {
  static override summary = 'Publish MQTT messages over mqtt://, mqtts://, ws:// or wss://.'
  static override description = `Flags follow mosquitto_pub and MQTTX CLI. QoS 1 and 2 wait for the broker's acknowledgement before exit.
Exit codes: 0 sent, 1 connection failure, 2 usage error, 3 refused by the broker (CONNACK or PUBACK >= 0x80).`

  static override enableJsonFlag = true

  static override examples = [
    {description: 'One message over TCP', command: "<%= config.bin %> <%= command.id %> -t sensors/1 -m '21.5'"},
    {description: 'Over WebSocket, QoS 1, retained', command: "<%= config.bin %> <%= command.id %> -L ws://localhost:8083/mqtt -t state/door -m open -q 1 -r"},
    {description: 'One message per stdin line', command: 'tail -f app.log | <%= config.bin %> <%= command.id %> -t logs/app -l'},
    {description: 'A file, with MQTT 5 properties', command: '<%= config.bin %> <%= command.id %> -t files/cfg -f config.json --content-type application/json -D origin=ci'},
    {description: 'Clear a retained message', command: '<%= config.bin %> <%= command.id %> -t state/door -r -n'},
    {description: "Check a broker's WebSocket reassembly: every packet cut into 3-byte frames", command: '<%= config.bin %> <%= command.id %> -L ws://localhost:8083/mqtt -t t -m hello -q 2 --ws-framing split:3'},
    {description: 'mosquitto-style URL: credentials and topic in -L', command: "<%= config.bin %> <%= command.id %> -L 'mqtt://user:secret@localhost:1883/sensors/1' -m 21.5"},
    {description: 'WSS to a broker with a custom CA and header', command: "<%= config.bin %> <%= command.id %> -L wss://broker.local:8084/mqtt --cafile ca.pem -H 'Authorization: Bearer abc' -t a -m b"},
  ]

  static override flags = {
    topic: Flags.string({char: 't', summary: 'Topic to publish to (required: here, in the path of an mqtt:// -L URL, or asked on a terminal).', helpGroup: 'MESSAGE'}),
    message: Flags.string({char: 'm', summary: 'Payload text.', helpGroup: 'MESSAGE'}),
    file: Flags.string({char: 'f', summary: 'Send the content of FILE as one message.', helpGroup: 'MESSAGE'}),
    'stdin-file': Flags.boolean({char: 's', summary: 'Send all of stdin as one message.', helpGroup: 'MESSAGE'}),
    'stdin-line': Flags.boolean({char: 'l', summary: 'Send each stdin line as a message, as lines arrive.', helpGroup: 'MESSAGE'}),
    'null-message': Flags.boolean({char: 'n', summary: 'Send an empty message (with -r: clear the retained message).', helpGroup: 'MESSAGE'}),
    qos: Flags.integer({char: 'q', summary: 'QoS 0, 1 or 2 (default 0).', helpGroup: 'MESSAGE', min: 0, max: 2, default: 0}),
    retain: Flags.boolean({char: 'r', summary: 'Retain the message.', helpGroup: 'MESSAGE'}),
    repeat: Flags.integer({summary: 'Send each message N times.', helpGroup: 'MESSAGE', min: 1, default: 1}),
    'repeat-delay': Flags.custom<number>({summary: 'Seconds between repeats (fractions allowed, e.g. 0.5).', helpGroup: 'MESSAGE', default: 0, parse: parseSeconds})(),
    'user-property': Flags.string({char: 'D', summary: 'MQTT 5 user property key=value (repeatable).', helpGroup: 'MQTT 5', multiple: true}),
    'content-type': Flags.string({summary: 'MQTT 5 content type.', helpGroup: 'MQTT 5'}),
    'response-topic': Flags.string({summary: 'MQTT 5 response topic.', helpGroup: 'MQTT 5'}),
    'correlation-data': Flags.string({summary: 'MQTT 5 correlation data.', helpGroup: 'MQTT 5'}),
    'message-expiry': Flags.integer({char: 'e', summary: 'MQTT 5 message expiry interval in seconds.', helpGroup: 'MQTT 5', min: 0, max: 4294967295}),
    'topic-alias': Flags.integer({summary: 'MQTT 5 topic alias.', helpGroup: 'MQTT 5', min: 1, max: 65535}),
    'payload-format': Flags.integer({summary: 'MQTT 5 payload format indicator: 0 bytes, 1 UTF-8.', helpGroup: 'MQTT 5', min: 0, max: 1}),
    ...connectionFlags,
  }

  async run(): Promise<{url: string; clientId: string; count: number; messages: Array<Omit<SentMessage, 'payload'> & {bytes: number}>}> {
    const {flags} = await this.parse(Pub)
    // Asked only when needed: the first look at process.stdin sets it up, which takes a few ms.
    const interactive = (): boolean => canPrompt(this.jsonEnabled())
    const topic = flags.topic ?? topicFromUrl(flags.url) ?? (interactive() ? await askText('Topic to publish to:', (v) => topicNameProblem(v) ?? true) : undefined)
    if (topic === undefined) throw new ConfigError('no topic: give one with -t TOPIC')
    const problem = topicNameProblem(topic)
    if (problem) throw new ConfigError(`-t ${topic}: ${problem}`)
    if (countPayloadSources(flags) > 1) throw new ConfigError('give only one of -m, -f, -s, -l, -n')
    if (countPayloadSources(flags) === 0 && interactive()) flags.message = await askText('Message:', () => true)
    const payloads = await payloadsFrom(flags)
    const properties = publishProperties(flags)
    const options = await clientOptionsFromFlags(flags)
    if (properties && options.protocolVersion !== 5) throw new ConfigError('MQTT 5 properties (-D, --content-type, …) need -V 5')

    const log = createCliLogger(flags['log-level'] ?? 'info', false, (line) => process.stderr.write(`${line}\n`))
    const client = await MqttClient.connect(options)
    log.debug('connected', {url: client.url, clientId: client.clientId, version: client.version})
    const messages: Array<Omit<SentMessage, 'payload'> & {bytes: number}> = []
    const json = this.jsonEnabled()
    let count = 0
    try {
      const plan = {topic, qos: flags.qos as QoS, retain: flags.retain === true, properties, repeat: flags.repeat, repeatDelayMs: Math.round(flags['repeat-delay'] * 1000)}
      count = await publishAll(client, payloads, plan, json ? (m) => messages.push({topic: m.topic, qos: m.qos, retain: m.retain, reasonCode: m.reasonCode, bytes: m.payload.length}) : undefined)
      // QoS 0 has no acknowledgement: a PINGRESP says the broker read every message and kept the connection.
      if (plan.qos === 0 && count > 0) await client.ping()
    } finally {
      // Stop reading stdin (-l may be waiting for a line that never comes), then say goodbye.
      if (flags['stdin-line'] || flags['stdin-file']) process.stdin.destroy()
      await client.end()
    }
    log.debug('published', {count})
    // QoS 0 has no acknowledgement: a broker that dropped us for a message says so only with DISCONNECT.
    const dropped = client.failure
    if (dropped instanceof MqttwsError && (dropped.reasonCode ?? 0) >= 0x80) throw dropped
    return {url: client.url, clientId: client.clientId, count, messages}
  }
}

function parseSeconds(text: string): Promise<number> {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new ConfigError(`--repeat-delay ${text}: give a number of seconds (0 or more, e.g. 0.5)`)
  return Promise.resolve(n)
}

function publishProperties(f: {
  'user-property'?: string[]
  'content-type'?: string
  'response-topic'?: string
  'correlation-data'?: string
  'message-expiry'?: number
  'topic-alias'?: number
  'payload-format'?: number
}): PublishProperties | undefined {
  const p: PublishProperties = {}
  const up = userProperties((f['user-property'] ?? []).map(parseUserProperty))
  if (up) p.userProperties = up
  if (f['content-type'] !== undefined) p.contentType = f['content-type']
  if (f['response-topic'] !== undefined) p.responseTopic = f['response-topic']
  if (f['correlation-data'] !== undefined) p.correlationData = Buffer.from(f['correlation-data'])
  if (f['message-expiry'] !== undefined) p.messageExpiryInterval = f['message-expiry']
  if (f['topic-alias'] !== undefined) p.topicAlias = f['topic-alias']
  if (f['payload-format'] !== undefined) p.payloadFormatIndicator = f['payload-format'] === 1
  return Object.keys(p).length > 0 ? p : undefined
}
