import {Flags} from '@oclif/core'
import {Broker} from '../core/broker/broker.js'
import {DEFAULTS} from '../core/config.js'
import {BaseCommand} from '../cli/base-command.js'
import {createCliLogger} from '../cli/logger.js'
import {adminJson, listeningJson, renderAdmin, renderListening, renderStopHint} from '../cli/render.js'
import {attachBrokerLogging} from '../cli/broker-logging.js'
import {buildServeConfig, serveAdminFlags, serveLimitFlags, serveStorageFlags, startServeAdmin, stopServeAdmin} from '../cli/serve-options.js'
import {openConfiguredStores} from '../core/store/sqlite.js'
import {reloadAuthOnSighup, serveAuthFlags} from '../cli/auth-options.js'
import {renderEffectiveConfig} from '../cli/config-report.js'
import {createServeBus, serveClusterFlags} from '../cli/cluster-options.js'
import {serveAuthzFlags} from '../cli/authz-options.js'
import {authorizationNotice} from '../core/authz/config.js'
import {serveGuardFlags} from '../cli/guard-options.js'
import {keepBansIn} from '../cli/ban-file.js'
import {trimMemoryWhenIdle} from '../cli/idle-memory.js'
import {lowerBackgroundThreads} from '../cli/background-threads.js'
import mqttPacket from 'mqtt-packet'

export default class Serve extends BaseCommand {
  static override summary = 'Run an MQTT broker with TCP, TLS, WebSocket and secure WebSocket listeners.'
  static override description = `With no flags: MQTT over TCP on 1883 and MQTT over WebSocket on 8083 at /mqtt, bound to 127.0.0.1.
With a certificate and key (--tls-cert/--tls-key, or --dev-cert) also MQTT over TLS on 8883 and WSS on 8084.
MQTT 3.1, 3.1.1 and 5.0 clients on every transport share one topic namespace.
Settings come from DEFAULTS < --config file < MQTTWS_* environment < flags. SIGINT/SIGTERM stop it gracefully (exit 0).
Limits, slow-consumer handling, MQTT 5 behaviour and shared subscriptions: docs/broker.md.`

  static override examples = [
    {description: 'Defaults: mqtt://127.0.0.1:1883 and ws://127.0.0.1:8083/mqtt', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Expose on every interface', command: '<%= config.bin %> <%= command.id %> --host 0.0.0.0'},
    {description: 'Choose listeners (port 0 picks a free port)', command: '<%= config.bin %> <%= command.id %> --listen mqtt://127.0.0.1:1884 --listen ws://127.0.0.1:0/ws'},
    {description: 'TLS and WSS with a self-signed development certificate', command: '<%= config.bin %> <%= command.id %> --dev-cert'},
    {description: 'Your own certificate', command: '<%= config.bin %> <%= command.id %> --tls-cert cert.pem --tls-key key.pem'},
    {description: 'Machine-readable start-up (one JSON line per listener)', command: '<%= config.bin %> <%= command.id %> --listen ws://127.0.0.1:0 --json'},
    {description: 'Admin API on another port, with your own token (see `mqttws listeners`)', command: '<%= config.bin %> <%= command.id %> --admin http://127.0.0.1:19083 --admin-token s3cret-token'},
    {description: 'Durable: sessions, offline messages and retained messages survive a restart', command: '<%= config.bin %> <%= command.id %> --data-dir ./mqttws-data'},
    {description: 'Expose on every interface, with passwords (make the file with `mqttws passwd -c FILE USER`)', command: '<%= config.bin %> <%= command.id %> --host 0.0.0.0 --password-file ./passwd'},
    {description: 'A node of a cluster (run one per machine, all naming the same NATS servers)', command: '<%= config.bin %> <%= command.id %> --cluster nats://10.0.0.5:4222 --cluster-name node-a --host 0.0.0.0'},
    {description: 'Everything from a file', command: '<%= config.bin %> <%= command.id %> --config mqttws.yaml'},
  ]

  static override flags = {
    listen: Flags.string({char: 'l', multiple: true, summary: 'Listener URL: mqtt://HOST:PORT, mqtts://…, ws://HOST:PORT/PATH, wss://…/PATH (repeatable; replaces the defaults).'}),
    host: Flags.string({summary: `Address the default listeners bind to (default ${DEFAULTS.host}).`, env: 'MQTTWS_HOST'}),
    config: Flags.string({char: 'c', summary: 'YAML or JSON file with any of the settings below (flags win).', env: 'MQTTWS_CONFIG'}),
    json: Flags.boolean({summary: 'Print one JSON line per listener on stdout (and log as JSON on stderr).'}),
    'print-config': Flags.boolean({summary: 'Print the effective settings (defaults < --config < environment < flags) as YAML, secrets redacted, and exit.'}),
    'tls-cert': Flags.string({summary: 'PEM certificate for mqtts:// and wss:// listeners.', helpGroup: 'TLS', dependsOn: ['tls-key']}),
    'tls-key': Flags.string({summary: 'PEM private key of --tls-cert.', helpGroup: 'TLS', dependsOn: ['tls-cert']}),
    'tls-ca': Flags.string({summary: 'PEM CA bundle sent with the certificate chain.', helpGroup: 'TLS'}),
    'dev-cert': Flags.boolean({summary: 'Generate a self-signed certificate for localhost so mqtts:// and wss:// work at once.', helpGroup: 'TLS', exclusive: ['tls-cert']}),
    'ws-path': Flags.string({summary: `WebSocket path (default ${DEFAULTS.ws.path}); other paths get 404.`, helpGroup: 'WEBSOCKET'}),
    'ws-subprotocols': Flags.string({summary: `Accepted Sec-WebSocket-Protocol values, comma-separated (default ${DEFAULTS.ws.subprotocols.join(',')}).`, helpGroup: 'WEBSOCKET'}),
    'ws-allow-no-subprotocol': Flags.boolean({summary: 'Accept WebSocket clients that offer no subprotocol (some embedded and mini-program clients).', helpGroup: 'WEBSOCKET', allowNo: true}),
    'ws-piggyback': Flags.boolean({summary: 'Send all packets pending in one event-loop turn in a single WebSocket frame.', helpGroup: 'WEBSOCKET', allowNo: true}),
    'ws-deflate': Flags.boolean({summary: 'Accept permessage-deflate compression when a WebSocket client offers it.', helpGroup: 'WEBSOCKET', allowNo: true}),
    'ws-origins': Flags.string({summary: 'Allowed Origin values, comma-separated, e.g. https://app.example.com; a browser handshake from another origin gets 403 (default: any).', helpGroup: 'WEBSOCKET'}),
    ...serveAuthFlags,
    ...serveAuthzFlags,
    ...serveGuardFlags,
    ...serveStorageFlags,
    ...serveLimitFlags,
    ...serveAdminFlags,
    ...serveClusterFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Serve)
    // mqtt-packet fills a table of 65,536 two-byte Buffers on its first generate(), to save an
    // allocation per encoded number: 6 MB of heap for good, made at the first CONNACK, which made
    // a fresh broker's first scavenges under traffic copy it (5-11 ms each, its worst latencies).
    // What it encodes in the broker (CONNACK, SUBACK...) is off the hot path. Not turned off for
    // every process: bench's 64 KiB fan-in ran 30% slower without the table (not understood yet).
    mqttPacket.writeToStream.cacheNumbers = false
    // Before any thread of the broker's own starts (the SQLite writer): see background-threads.ts.
    lowerBackgroundThreads()
    const setup = await buildServeConfig(flags)
    if (flags['print-config']) return void this.log(renderEffectiveConfig(setup.config, setup.logLevel))
    const logger = createCliLogger(setup.logLevel, flags.json, (line) => process.stderr.write(`${line}\n`))
    const stores = openConfiguredStores(setup.config)
    const bus = await createServeBus(setup.config.cluster, logger)
    const broker = new Broker(setup.config, {logger, sessions: stores.sessions, retained: stores.retained, bus, version: this.config.version})
    attachBrokerLogging(broker, logger)
    if (setup.config.persistence) await keepBansIn(setup.config.persistence.dir, broker, logger)
    let listeners
    try {
      listeners = await broker.listen()
    } catch (error) {
      await broker.close()
      throw error
    }
    const notice = authorizationNotice(setup.config.authorization)
    if (notice !== undefined) logger.warn(`authorization: ${notice}`)
    if (stores.database) logger.info('data directory', {file: stores.database.file, sessions: broker.sessionCount, synchronous: setup.config.persistence!.synchronous})
    let admin
    try {
      admin = await startServeAdmin(broker, setup, flags, logger, (msg) => logger.warn(msg))
    } catch (error) {
      await broker.close()
      throw error
    }
    const adminInfo = admin && {url: admin.server.url, host: admin.server.host, port: admin.server.port, token: admin.token, tokenFile: admin.tokenFile, dashboard: admin.dashboard}
    if (flags.json) {
      for (const l of listeners) this.log(listeningJson(l))
      if (adminInfo) this.log(adminJson(adminInfo))
      if (setup.devCertFile) this.log(JSON.stringify({event: 'devCert', file: setup.devCertFile}))
      if (bus) this.log(JSON.stringify({event: 'cluster', node: bus.name, instance: bus.instance, servers: setup.config.cluster!.servers}))
      this.log(JSON.stringify({event: 'ready', pid: process.pid}))
    }
    else {
      this.log(renderListening(listeners, setup.devCertFile))
      if (adminInfo) this.log(renderAdmin(adminInfo))
      this.log(renderStopHint())
    }

    const stopReload = reloadAuthOnSighup(broker, logger)
    const stopTrim = trimMemoryWhenIdle(broker, logger)
    const signal = await this.untilSignal(() => {
      // A second signal while stopping: leave now, without a stack trace.
      process.stderr.write('Stopped at once (second signal); clients were not all told.\n')
      process.exit(1)
    })
    stopReload()
    stopTrim()
    logger.info('shutting down', {signal})
    await Promise.all([broker.close(), stopServeAdmin(admin)])
    if (flags.json) this.log(JSON.stringify({event: 'stopped', signal}))
  }
}
