import {Flags} from '@oclif/core'
import {MqttClient} from '../core/client/client.js'
import type {Subscription} from '../core/client/types.js'
import {parseUserProperty, userProperties} from '../core/client/options.js'
import {runSubscriberReconnecting} from '../core/client/reconnect.js'
import {ConfigError, TimeoutError} from '../core/errors.js'
import type {QoS} from '../core/protocol/codec.js'
import {topicFilterProblem} from '../core/protocol/topic.js'
import {BaseCommand} from '../cli/base-command.js'
import {createCliLogger} from '../cli/logger.js'
import {clientOptionsFromFlags, connectionFlags, topicFromUrl} from '../cli/client-flags.js'
import {messagePrinter} from '../cli/message-format.js'
import {askText, canPrompt} from '../cli/prompt.js'

const RETAIN_HANDLING: Record<string, 0 | 1 | 2> = {'0': 0, '1': 1, '2': 2, always: 0, new: 1, never: 2}

export default class Sub extends BaseCommand {
  static override summary = 'Subscribe and print messages, over mqtt://, mqtts://, ws:// or wss://.'
  static override description = `Flags follow mosquitto_sub and MQTTX CLI. Prints each message's payload (-v: topic and payload; -F: a format; --format ndjson: one JSON object per line).
Payloads that are not UTF-8 text are printed as hex (or --binary base64|raw). Ctrl-C ends cleanly (exit 0).
Exit codes: 0 done, 1 connection lost or -W expired before -C messages, 2 usage error, 3 refused (CONNACK or SUBACK >= 0x80).`

  static override examples = [
    {description: 'Everything under sensors/, with topics', command: "<%= config.bin %> <%= command.id %> -t 'sensors/#' -v"},
    {description: 'Over WebSocket, wait for one message at most 5 s', command: '<%= config.bin %> <%= command.id %> -L ws://localhost:8083/mqtt -t jobs/done -C 1 -W 5'},
    {description: 'Machine-readable', command: "<%= config.bin %> <%= command.id %> -t '#' --format ndjson"},
    {description: 'mosquitto-style format', command: "<%= config.bin %> <%= command.id %> -t 'a/#' -F '%I %t q%q r%r %p'"},
    {description: 'Tab-separated time, topic and payload, with mosquitto_sub codes', command: "<%= config.bin %> <%= command.id %> -t 'a/#' -F '@Y-@m-@dT@H:@M:@S\\t%t\\t%p'"},
    {description: 'List, then clear, every retained message', command: "<%= config.bin %> <%= command.id %> -t '#' --retained-only -v --remove-retained"},
  ]

  static override flags = {
    topic: Flags.string({char: 't', summary: 'Topic filter (repeatable; required: here, in the path of an mqtt:// -L URL, or asked on a terminal).', multiple: true, helpGroup: 'SUBSCRIPTION'}),
    qos: Flags.integer({char: 'q', summary: 'QoS of the subscriptions (default 0).', min: 0, max: 2, default: 0, helpGroup: 'SUBSCRIPTION'}),
    count: Flags.integer({char: 'C', summary: 'Exit after N messages.', min: 1, helpGroup: 'SUBSCRIPTION'}),
    timeout: Flags.integer({char: 'W', summary: 'Exit after S seconds.', min: 1, helpGroup: 'SUBSCRIPTION'}),
    'skip-retained': Flags.boolean({char: 'R', summary: 'Do not print retained (stale) messages.', helpGroup: 'SUBSCRIPTION', exclusive: ['retained-only']}),
    'retained-only': Flags.boolean({summary: 'Print only retained messages; exit at the first live one (or after 0.5 s of quiet).', helpGroup: 'SUBSCRIPTION', exclusive: ['skip-retained']}),
    'remove-retained': Flags.boolean({summary: 'Clear every retained message received.', helpGroup: 'SUBSCRIPTION'}),
    'exit-subscribed': Flags.boolean({char: 'E', summary: 'Exit once the broker granted every subscription (as mosquitto_sub -E: e.g. to create a persistent session with -c).', helpGroup: 'SUBSCRIPTION'}),
    reconnect: Flags.boolean({summary: 'When the connection is lost, connect and subscribe again (after 1 s, doubling to 30 s), for long-running use; -C and -W count across connections.', helpGroup: 'SUBSCRIPTION'}),
    'filter-out': Flags.string({char: 'T', summary: 'Do not print topics matching this filter (repeatable).', multiple: true, helpGroup: 'SUBSCRIPTION'}),
    'no-local': Flags.boolean({summary: 'MQTT 5: do not receive our own messages.', helpGroup: 'MQTT 5'}),
    'retain-as-published': Flags.boolean({summary: 'MQTT 5: keep the retain flag as published.', helpGroup: 'MQTT 5'}),
    'retain-handling': Flags.string({summary: 'MQTT 5: retained messages on subscribe: always (0), new (1), never (2).', options: Object.keys(RETAIN_HANDLING), helpGroup: 'MQTT 5'}),
    'subscription-id': Flags.integer({summary: 'MQTT 5 subscription identifier.', min: 1, max: 268435455, helpGroup: 'MQTT 5'}),
    'user-property': Flags.string({char: 'D', summary: 'MQTT 5 SUBSCRIBE user property key=value (repeatable).', multiple: true, helpGroup: 'MQTT 5'}),
    verbose: Flags.boolean({char: 'v', summary: 'Print "topic payload".', helpGroup: 'OUTPUT'}),
    template: Flags.string({
      char: 'F',
      summary: 'mosquitto_sub format: %t topic, %p payload, %q QoS, %r retain, %l length, %m id, %x/%X hex, %I/%U time, %j/%J JSON, %C %D %E %F %P %R %S %A MQTT 5 properties, %d/%f numbers, @ strftime, \\ escapes.',
      helpGroup: 'OUTPUT',
    }),
    format: Flags.option({options: ['text', 'ndjson', 'json'] as const, summary: 'text, or ndjson (json, as MQTTX writes it): one JSON object per message.', default: 'text', helpGroup: 'OUTPUT'})(),
    'no-eol': Flags.boolean({char: 'N', summary: 'No newline after each message.', helpGroup: 'OUTPUT'}),
    binary: Flags.option({options: ['hex', 'base64', 'raw'] as const, summary: 'How to print payloads that are not UTF-8 text (default hex).', default: 'hex', helpGroup: 'OUTPUT'})(),
    ...connectionFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Sub)
    const format = flags.format === 'json' ? 'ndjson' : flags.format
    const fromUrl = topicFromUrl(flags.url)
    let filters = flags.topic ?? (fromUrl === undefined ? [] : [fromUrl])
    if (filters.length === 0 && canPrompt(format === 'ndjson')) filters = [await askText('Topic filter to subscribe to:', (v) => topicFilterProblem(v) ?? true)]
    if (filters.length === 0) throw new ConfigError('no topic filter: give at least one with -t FILTER')
    for (const f of filters) {
      const problem = topicFilterProblem(f)
      if (problem) throw new ConfigError(`-t ${f}: ${problem}`)
    }
    const options = await clientOptionsFromFlags(flags)
    const v5only = flags['no-local'] || flags['retain-as-published'] || flags['retain-handling'] || flags['subscription-id'] || flags['user-property']
    if (v5only && options.protocolVersion !== 5) throw new ConfigError('--no-local, --retain-as-published, --retain-handling, --subscription-id and -D are MQTT 5 options: use -V 5')
    const rh = flags['retain-handling'] === undefined ? undefined : RETAIN_HANDLING[flags['retain-handling']]
    const subscriptions: Subscription[] = filters.map((topic) => ({topic, qos: flags.qos as QoS, nl: flags['no-local'], rap: flags['retain-as-published'], ...(rh === undefined ? {} : {rh})}))
    const render = messagePrinter({format, template: flags.template, verbose: flags.verbose, eol: !flags['no-eol'], binary: flags.binary})
    const print = (p: Parameters<typeof render>[0]): void => {
      process.stdout.write(render(p))
    }
    const log = createCliLogger(flags['log-level'] ?? 'info', false, (line) => process.stderr.write(`${line}\n`))
    const connected = (c: MqttClient): void => log.debug('connected', {url: c.url, clientId: c.clientId, version: c.version})
    // Without --reconnect a first connection that fails is the error; with it, it is retried too.
    const client = flags.reconnect ? undefined : await MqttClient.connect(options)
    if (client) connected(client)
    const abort = new AbortController()
    const stop = (): void => abort.abort()
    process.once('SIGINT', stop).once('SIGTERM', stop)
    // The reader went away (`sub … | head -1`): stop, as mosquitto_sub does on a stdout error.
    process.stdout.once('error', stop)
    try {
      const result = await runSubscriberReconnecting(
        () => MqttClient.connect(options),
        client,
        {
          subscriptions,
          subscriptionId: flags['subscription-id'],
          userProperties: userProperties((flags['user-property'] ?? []).map(parseUserProperty)),
          count: flags.count,
          timeoutMs: flags.timeout === undefined ? undefined : flags.timeout * 1000,
          skipRetained: flags['skip-retained'],
          retainedOnly: flags['retained-only'],
          removeRetained: flags['remove-retained'],
          filterOut: flags['filter-out'],
          onSubscribed: (codes) => {
            log.debug('subscribed', {filters: filters.join(' '), granted: codes.join(' ')})
            if (flags['exit-subscribed']) abort.abort()
          },
        },
        print,
        abort.signal,
        {
          reconnect: flags.reconnect,
          onConnected: connected,
          onReconnecting: (error, ms) => log.warn(`connection lost: ${error.message}; reconnecting in ${ms / 1000} s`),
        },
      )
      if (result.reason === 'closed') throw result.error ?? new Error('the connection closed')
      if (result.reason === 'timeout' && flags.count !== undefined) {
        throw new TimeoutError(`received ${result.received} of ${flags.count} messages within ${flags.timeout} s`)
      }
    } finally {
      process.off('SIGINT', stop).off('SIGTERM', stop)
      process.stdout.off('error', stop)
    }
  }
}
