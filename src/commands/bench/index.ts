import {readFile, writeFile} from 'node:fs/promises'
import {Args, Flags} from '@oclif/core'
import {parseAssertion} from '../../core/bench/assert.js'
import {asBenchResult, parseRegression} from '../../core/bench/baseline.js'
import {benchJson} from '../../core/bench/json.js'
import {resolvePlan, SCENARIOS, TRANSPORTS} from '../../core/bench/plan.js'
import type {BenchTransport, Scenario} from '../../core/bench/plan.js'
import {toCsv} from '../../core/bench/result.js'
import {evaluateGates} from '../../core/bench/gate.js'
import type {BenchResult} from '../../core/bench/result.js'
import {runBench} from '../../core/bench/run.js'
import type {BenchProgress} from '../../core/bench/run.js'
import {measureCeiling, nearCeiling} from '../../core/bench/selftest.js'
import {renderHtmlReport} from '../../core/bench/report.js'
import {ConfigError} from '../../core/errors.js'
import type {QoS} from '../../core/protocol/codec.js'
import {parseProtocolVersion} from '../../core/client/options.js'
import {BaseCommand} from '../../cli/base-command.js'
import {resolveTarget, urlTransports, urlsFromHost} from '../../cli/bench-target.js'
import {resolvePassword, secretFlagsIn} from '../../cli/secret-source.js'
import {benchHeadline, checkAssertionNames} from '../../cli/bench-checks.js'
import {fitWidth, renderAssertions, renderBenchResult, renderProgress} from '../../cli/render.js'

async function readPemFlag(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`${flag} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}: give a PEM file`)
  }
}

export default class Bench extends BaseCommand {
  static override summary = 'Measure throughput, latency and bytes on the wire, across transports side by side; gate CI on the result.'
  static override description = `Without --url it starts its own broker (mqttws serve) in a separate process. With --url it measures any broker (Mosquitto, EMQX, Aedes…): one URL per transport, or several of one transport (the nodes of a cluster) to spread the clients over them round-robin.
Scenarios: conn, pub, sub, fan-in (N→1), fan-out (1→N), latency (paced 1→1), compare (one scenario over several transports).
Exit codes: 0 ok, 1 an --assert or --max-regression failed (or the run failed), 2 usage error.`

  static override enableJsonFlag = true

  static override args = {
    scenario: Args.string({description: 'conn, pub, sub, fan-in, fan-out, latency or compare', default: 'fan-in', options: [...SCENARIOS, 'compare']}),
  }

  static override examples = [
    {description: 'TCP vs WS vs WSS side by side, with bytes on the wire', command: '<%= config.bin %> <%= command.id %> compare --transports tcp,ws,wss'},
    {description: 'As a CI gate', command: "<%= config.bin %> <%= command.id %> compare --transports tcp,ws -d 5 --assert 'ws.recv_per_s >= 0.5 * tcp.recv_per_s' --assert 'lost == 0'"},
    {description: 'Latency percentiles at 2000 msg/s over WS', command: '<%= config.bin %> <%= command.id %> latency --transports ws --rate 2000'},
    {description: 'Measure Mosquitto', command: '<%= config.bin %> <%= command.id %> fan-in --url mqtt://127.0.0.1:1883 --url ws://127.0.0.1:8080/mqtt'},
    {description: 'A three-node cluster as one broker (clients spread over the nodes)', command: '<%= config.bin %> <%= command.id %> fan-in -L mqtt://127.0.0.1:1883 -L mqtt://127.0.0.1:1884 -L mqtt://127.0.0.1:1885'},
    {description: 'Regression check against a saved run', command: '<%= config.bin %> <%= command.id %> fan-in --json > base.json; <%= config.bin %> <%= command.id %> fan-in --baseline base.json --max-regression 10%'},
  ]

  static override flags = {
    scenario: Flags.option({options: SCENARIOS, summary: 'With compare: the scenario to compare (default fan-in).', helpGroup: 'LOAD'})(),
    transports: Flags.string({char: 'T', helpValue: '<tcp,tls,ws,wss>', summary: `Comma-separated: ${TRANSPORTS.join(', ')} (default tcp; compare: tcp,ws,wss).`, helpGroup: 'LOAD'}),
    url: Flags.string({char: 'L', summary: 'Broker to measure (repeatable): one URL per transport, or several of one transport (cluster nodes) to spread the clients over round-robin; default: an embedded broker.', multiple: true, exclusive: ['host', 'port'], helpGroup: 'TARGET'}),
    host: Flags.string({char: 'h', summary: 'Broker to measure by host (as pub/sub -h), on each transport of -T at its usual port (1883, 8883, 8083/mqtt, 8084/mqtt).', helpGroup: 'TARGET'}),
    port: Flags.integer({char: 'p', summary: 'With one transport: its port (as pub/sub -p; host localhost unless -h).', min: 1, max: 65535, helpGroup: 'TARGET'}),
    publishers: Flags.integer({char: 'P', summary: 'Publishers (pub, fan-in; default 10). Not the password, as -P is in pub and sub: write --password.', min: 0, helpGroup: 'LOAD'}),
    subscribers: Flags.integer({char: 'S', summary: 'Subscribers (sub, fan-out; default 1, fan-out 10).', min: 0, helpGroup: 'LOAD'}),
    connections: Flags.integer({char: 'c', summary: 'conn: connections to open (default 100).', min: 1, helpGroup: 'LOAD'}),
    'connect-rate': Flags.integer({summary: 'conn: connections per second (default: as fast as possible).', min: 0, helpGroup: 'LOAD'}),
    settle: Flags.integer({
      summary: "conn with a known broker: leave it idle S seconds, and until its memory stops falling, before reading its memory (a garbage-collected broker gives back what a burst of connects grew only when idle; default 0: at once).",
      min: 0,
      max: 600,
      helpGroup: 'LOAD',
    }),
    qos: Flags.integer({char: 'q', summary: 'QoS 0, 1 or 2 (default 0).', min: 0, max: 2, helpGroup: 'LOAD'}),
    'payload-size': Flags.integer({char: 's', summary: 'Payload bytes, at least 16 (default 16).', min: 16, helpGroup: 'LOAD'}),
    rate: Flags.integer({char: 'r', summary: 'Messages per second per publisher (default: as fast as possible; latency: 1000).', min: 0, helpGroup: 'LOAD'}),
    duration: Flags.integer({char: 'd', summary: 'Seconds per transport (default 5).', min: 1, helpGroup: 'LOAD'}),
    count: Flags.integer({char: 'n', summary: 'Messages per publisher instead of a duration.', min: 1, helpGroup: 'LOAD'}),
    topic: Flags.string({char: 't', summary: 'Topic template: %i publisher index, %c client id (default mqttws/bench/%i).', helpGroup: 'LOAD'}),
    'protocol-version': Flags.string({char: 'V', summary: 'MQTT version: 3.1, 3.1.1 or 5.', default: '3.1.1', helpValue: '<3.1|3.1.1|5>', helpGroup: 'LOAD'}),
    'ws-deflate': Flags.boolean({summary: 'Offer permessage-deflate (used where the broker accepts it, e.g. serve --ws-deflate) to measure the bytes it saves.', helpGroup: 'LOAD'}),
    'session-expiry': Flags.integer({summary: 'Subscribers keep a persistent session for S seconds (3.1.1: clean session 0), so a durable broker (serve --data-dir) stores what they get (default 0: clean).', min: 0, max: 0xffffffff, helpGroup: 'LOAD'}),
    workers: Flags.integer({char: 'w', summary: 'Threads for the load generator: the publishers spread over up to N, the subscribers over up to N others (default 1: all on the main thread; try 2 when --selftest says the generator is the bottleneck).', min: 1, max: 64, helpGroup: 'LOAD'}),
    'topic-alias-max': Flags.integer({summary: 'With -V 5: the Topic Alias Maximum the subscribers announce, so the broker may send long topics once and then an alias; bench reports the wire bytes saved (default 0: none).', min: 0, max: 65535, helpGroup: 'LOAD'}),
    inflight: Flags.integer({summary: 'Messages each publisher may have sent and not yet received by every subscriber (QoS 0 included; QoS 1/2: also at most N unacknowledged), so the rate is what the broker sustains. Default 0: off, only the shared window (20,000 deliveries and 512 KiB ahead of the subscribers; QoS 1/2: 500 per subscriber, 64 unacknowledged per publisher).', min: 0, max: 1_000_000, helpGroup: 'LOAD'}),
    'ws-framing': Flags.option({options: ['packet', 'piggyback'] as const, summary: 'Frames of the load generator: one per packet, or one per batch.', helpGroup: 'LOAD'})(),
    'broker-pid': Flags.integer({summary: "With --url: the local broker's process id, so conn reports its memory and CPU time per connection (Linux /proc).", min: 1, dependsOn: ['url'], helpGroup: 'TARGET'}),
    cafile: Flags.string({summary: 'CA to trust for tls/wss URLs.', helpGroup: 'TARGET'}),
    insecure: Flags.boolean({summary: 'Do not verify tls/wss certificates.', helpGroup: 'TARGET'}),
    cert: Flags.string({summary: 'With --url: PEM client certificate every tls/wss client presents (mTLS).', dependsOn: ['key', 'url'], helpGroup: 'TARGET'}),
    key: Flags.string({summary: 'With --url: PEM private key of --cert.', dependsOn: ['cert'], helpGroup: 'TARGET'}),
    username: Flags.string({char: 'u', summary: 'User name every bench client logs in with (a broker with authentication).', env: 'MQTTWS_USERNAME', helpGroup: 'TARGET'}),
    password: Flags.string({summary: 'Password (or token) every bench client logs in with (--password-from-file, --password-env: not in the shell history).', env: 'MQTTWS_PASSWORD', helpGroup: 'TARGET'}),
    // The password options of pub and sub, grouped with the rest of what bench logs in with.
    ...secretFlagsIn('TARGET'),
    assert: Flags.string({char: 'a', summary: "Fail (exit 1) unless EXPR holds, e.g. 'ws.recv_per_s >= 0.5 * tcp.recv_per_s' (repeatable).", multiple: true, helpGroup: 'GATE'}),
    baseline: Flags.string({summary: 'Earlier --json result to compare with.', helpGroup: 'GATE'}),
    'max-regression': Flags.string({summary: 'With --baseline: largest allowed slowdown, e.g. 10%.', default: '10%', helpGroup: 'GATE'}),
    csv: Flags.string({summary: 'Also write the headline figures as CSV to this file.', helpGroup: 'OUTPUT'}),
    selftest: Flags.boolean({summary: "First measure the generator's own ceiling against a trivial relay (tcp, ws), and warn when the broker comes within 2× of it.", helpGroup: 'LOAD'}),
    report: Flags.string({summary: 'Also write a self-contained HTML report with charts to this file.', helpGroup: 'OUTPUT'}),
  }

  async run(): Promise<Record<string, unknown>> {
    const {args, flags} = await this.parse(Bench)
    const compare = args.scenario === 'compare'
    const scenario = (compare ? (flags.scenario ?? 'fan-in') : args.scenario) as Scenario
    const transports = (flags.transports ?? (compare ? 'tcp,ws,wss' : 'tcp')).split(',').map((s) => s.trim()) as BenchTransport[]
    const assertions = (flags.assert ?? []).map(parseAssertion)
    // A typo in --assert fails now, before a broker starts or a message is sent.
    checkAssertionNames(assertions, {scenario, transports: flags.url ? urlTransports(flags.url) : transports})
    const maxRegression = parseRegression(flags['max-regression'])
    const baseline = flags.baseline ? asBenchResult(JSON.parse(await readFile(flags.baseline, 'utf8').catch(() => Promise.reject(new ConfigError(`--baseline ${flags.baseline}: no such file`)))), flags.baseline) : undefined
    const password = await resolvePassword(flags)
    if (flags['auth-method'] !== undefined && scenario !== 'conn') throw new ConfigError(`--auth-method ${flags['auth-method']} works with the conn scenario (its clients speak SCRAM); the load scenarios log in with -u and the password`)
    // The embedded broker accepts deflate only when it is being measured.
    const target = await resolveTarget(flags.url ?? urlsFromHost(flags.host, flags.port, transports), transports, {cafile: flags.cafile, insecure: flags.insecure}, flags['ws-deflate'] ? ['--ws-deflate'] : [], flags['broker-pid'])
    if (flags.url) Object.assign(target.target, {username: flags.username, password, authMethod: flags['auth-method']})
    if (flags.cert !== undefined && flags.key !== undefined) target.target.tls = {...target.target.tls, cert: await readPemFlag(flags.cert, '--cert'), key: await readPemFlag(flags.key, '--key')}
    const plan = resolvePlan({
      scenario,
      transports: target.transports,
      publishers: flags.publishers,
      subscribers: flags.subscribers ?? (scenario === 'fan-out' ? 10 : undefined),
      connections: flags.connections,
      connectRate: flags['connect-rate'],
      settleS: flags.settle,
      qos: flags.qos as QoS | undefined,
      payloadSize: flags['payload-size'],
      rate: flags.rate,
      durationMs: flags.duration === undefined ? (flags.count ? 600_000 : undefined) : flags.duration * 1000,
      count: flags.count,
      topic: flags.topic,
      protocolVersion: parseProtocolVersion(flags['protocol-version']),
      wsFraming: flags['ws-framing'],
      workers: flags.workers,
      inflight: flags.inflight,
      topicAliasMax: flags['topic-alias-max'],
      sessionExpiry: flags['session-expiry'],
      wsDeflate: flags['ws-deflate'],
    })
    const headline = benchHeadline(plan, target.description)
    const abort = new AbortController()
    const stop = (): void => abort.abort()
    process.once('SIGINT', stop)
    const tty = process.stderr.isTTY === true && !this.jsonEnabled()
    const onProgress = (p: BenchProgress): void => {
      if (tty) process.stderr.write(`\r\u001b[2K${fitWidth(renderProgress(p), (process.stderr.columns || 80) - 1)}`)
      else if (!this.jsonEnabled() && p.phase === 'connect') process.stderr.write(`${p.transport}: running ${scenario}…\n`)
    }
    let result: BenchResult
    try {
      const ceiling = flags.selftest ? await measureCeiling(plan) : undefined
      result = await runBench(plan, target.target, {signal: abort.signal, onProgress, brokerMemory: target.brokerMemory, brokerCpu: target.brokerCpu})
      if (ceiling) {
        result.ceiling = ceiling
        result.warnings = nearCeiling(result.results, ceiling).map(
          (n) => `${n.transport}: the broker delivered ${n.broker}/s, within 2× of the generator's ceiling (${n.ceiling}/s): the generator may be the bottleneck`,
        )
      }
    } finally {
      process.off('SIGINT', stop)
      if (tty) process.stderr.write('\r\u001b[2K')
      await target.stop()
    }
    result.settings.target = target.description
    if (flags.csv) await writeFile(flags.csv, toCsv(result))
    if (flags.report) await writeFile(flags.report, renderHtmlReport(result))
    this.log(`${headline}\n`)
    this.log(renderBenchResult(result))
    if (result.ceiling) this.log(`\nGenerator ceiling (trivial relay): ${result.ceiling.map((c) => `${c.transport} ${c.recv_per_s.toLocaleString('en-US')} deliveries/s`).join(', ')}`)
    for (const w of result.warnings ?? []) this.warn(w)
    const checks = evaluateGates(result, assertions, baseline, maxRegression)
    if (checks.length > 0) this.log(`\n${renderAssertions(checks)}`)
    const failed = checks.filter((c) => !c.ok).length
    if (failed > 0) {
      if (!this.jsonEnabled()) this.error(`${failed} of ${checks.length} checks failed`, {exit: 1})
      // --json: stdout stays one valid document (with the failed checks in it); the exit code says it failed.
      process.stderr.write(`Error: ${failed} of ${checks.length} checks failed\n`)
      process.exitCode = 1
    }
    return benchJson(checks.length > 0 ? {...result, checks} : result)
  }

}
