/**
 * Connection flags shared by `pub` and `sub`, named as mosquitto_pub/sub and MQTTX CLI
 * name them, and their translation into the core client's options.
 */
import {readFile} from 'node:fs/promises'
import {Flags} from '@oclif/core'
import type {ClientOptions, ConnectProperties} from '../core/client/types.js'
import {brokerUrl, parseFraming, parseHeader, parseProtocolVersion, parseUserProperty, userProperties} from '../core/client/options.js'
import type {ClientProtocol} from '../core/client/options.js'
import {ConfigError} from '../core/errors.js'
import type {QoS} from '../core/protocol/codec.js'
import {resolvePassword, secretFlags} from './secret-source.js'


export const connectionFlags = {
  url: Flags.string({
    char: 'L',
    summary: 'Broker URL: mqtt://[USER[:PASS]@]HOST:PORT[/TOPIC], mqtts://…, ws://HOST:PORT/PATH, wss://… (as mosquitto_pub -L: the path of an mqtt(s) URL is the topic).',
    helpGroup: 'CONNECTION',
    env: 'MQTTWS_URL',
  }),
  host: Flags.string({char: 'h', aliases: ['hostname'], summary: 'Broker host (default localhost).', helpGroup: 'CONNECTION'}),
  port: Flags.integer({char: 'p', summary: 'Broker port (default 1883, 8883, 8083 or 8084 by protocol).', helpGroup: 'CONNECTION', min: 1, max: 65535}),
  protocol: Flags.option({options: ['mqtt', 'mqtts', 'ws', 'wss'] as const, summary: 'Transport with -h/-p (default mqtt).', helpGroup: 'CONNECTION'})(),
  path: Flags.string({summary: 'WebSocket path (default /mqtt).', helpGroup: 'CONNECTION'}),
  'protocol-version': Flags.string({char: 'V', summary: 'MQTT version: 3.1, 3.1.1 or 5 (also 31, 311, mqttv311… as mosquitto writes them).', helpGroup: 'CONNECTION', default: '5', helpValue: '<3.1|3.1.1|5>'}),
  id: Flags.string({char: 'i', aliases: ['client-id'], summary: 'Client id (default: assigned by the broker).', helpGroup: 'CONNECTION', exclusive: ['id-prefix']}),
  'id-prefix': Flags.string({char: 'I', summary: 'Client id: this prefix and the process id (as mosquitto -I).', helpGroup: 'CONNECTION', exclusive: ['id']}),
  username: Flags.string({char: 'u', summary: 'User name.', helpGroup: 'CONNECTION', env: 'MQTTWS_USERNAME'}),
  password: Flags.string({char: 'P', aliases: ['pw'], summary: 'Password (or JWT); --password-from-file and --password-env keep it out of the shell history (in bench, -P is the number of publishers: write --password there).', helpGroup: 'CONNECTION', env: 'MQTTWS_PASSWORD'}),
  ...secretFlags,
  keepalive: Flags.integer({char: 'k', summary: 'Keepalive in seconds (default 60; 0 disables).', helpGroup: 'CONNECTION', min: 0, max: 65535, default: 60}),
  'no-clean': Flags.boolean({char: 'c', aliases: ['disable-clean-session'], summary: 'Keep the session (clean session / clean start off).', helpGroup: 'CONNECTION'}),
  'session-expiry': Flags.integer({
    char: 'x',
    summary: 'MQTT 5 session expiry interval in seconds (default: 0, or never expires with -c, as mosquitto).',
    helpGroup: 'CONNECTION',
    min: 0,
    max: 4294967295,
  }),
  'connect-timeout': Flags.integer({summary: 'Seconds to wait for the connection and CONNACK (default 10).', helpGroup: 'CONNECTION', min: 1, default: 10}),
  'conn-user-property': Flags.string({summary: 'MQTT 5 CONNECT user property key=value (repeatable).', helpGroup: 'CONNECTION', multiple: true}),
  'will-topic': Flags.string({summary: 'Will topic, published by the broker if we vanish.', helpGroup: 'WILL'}),
  'will-payload': Flags.string({summary: 'Will payload.', helpGroup: 'WILL', dependsOn: ['will-topic']}),
  'will-qos': Flags.integer({summary: 'Will QoS (0, 1 or 2).', helpGroup: 'WILL', min: 0, max: 2, dependsOn: ['will-topic']}),
  'will-retain': Flags.boolean({summary: 'Retain the Will.', helpGroup: 'WILL', dependsOn: ['will-topic']}),
  cafile: Flags.string({aliases: ['ca'], summary: 'PEM CA certificate(s) to trust for mqtts:// and wss://.', helpGroup: 'TLS'}),
  cert: Flags.string({summary: 'PEM client certificate.', helpGroup: 'TLS', dependsOn: ['key']}),
  key: Flags.string({summary: 'PEM client private key.', helpGroup: 'TLS', dependsOn: ['cert']}),
  insecure: Flags.boolean({summary: 'Do not verify the server certificate (development only).', helpGroup: 'TLS'}),
  header: Flags.string({char: 'H', summary: 'Extra WebSocket handshake header "Name: value" (repeatable).', helpGroup: 'WEBSOCKET', multiple: true}),
  'ws-subprotocol': Flags.string({summary: 'Sec-WebSocket-Protocol to offer, comma-separated (default mqtt).', helpGroup: 'WEBSOCKET'}),
  'ws-deflate': Flags.boolean({summary: 'Offer permessage-deflate compression (used if the broker accepts it).', helpGroup: 'WEBSOCKET'}),
  'ws-framing': Flags.string({summary: 'Outgoing frames: packet (one per packet), piggyback (one per batch), split:N (N bytes per frame).', helpGroup: 'WEBSOCKET', default: 'packet', helpValue: '<packet|piggyback|split:N>'}),
  debug: Flags.boolean({char: 'd', summary: 'Trace every MQTT packet sent and received on stderr: type, id, QoS, reason code, size.', helpGroup: 'GLOBAL'}),
}

export interface ConnectionFlagValues {
  url?: string
  host?: string
  port?: number
  protocol?: ClientProtocol
  path?: string
  'protocol-version': string
  id?: string
  'id-prefix'?: string
  debug?: boolean
  username?: string
  password?: string
  'password-from-file'?: string
  'password-env'?: string
  'auth-method'?: string
  keepalive: number
  'no-clean': boolean
  'session-expiry'?: number
  'connect-timeout': number
  'conn-user-property'?: string[]
  'will-topic'?: string
  'will-payload'?: string
  'will-qos'?: number
  'will-retain': boolean
  cafile?: string
  cert?: string
  key?: string
  insecure: boolean
  header?: string[]
  'ws-subprotocol'?: string
  'ws-framing': string
  'ws-deflate'?: boolean
}

async function readPem(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ConfigError(`${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
}

function traceToStderr(line: string): void {
  process.stderr.write(`${line}\n`)
}

const TCP_SCHEMES = new Set(['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:'])

/**
 * The topic in an mqtt:// or mqtts:// URL's path, as mosquitto_pub/sub -L take it
 * (mqtt://host/sensors/1; a # is written %23). WebSocket URLs keep their path.
 */
export function topicFromUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return undefined
  }
  if (!TCP_SCHEMES.has(url.protocol) || url.pathname.length <= 1) return undefined
  // A literal # (mqtt://host/a/#) starts the URL fragment: it belongs to the topic filter.
  const fragment = text.includes('#') ? `#${decodeURIComponent(url.hash.slice(1))}` : ''
  return decodeURIComponent(url.pathname.slice(1)) + fragment
}

/** Builds the core client's options from the flags (reading TLS files here: the core reads none). */
export async function clientOptionsFromFlags(f: ConnectionFlagValues): Promise<ClientOptions> {
  const url = brokerUrl({url: f.url, host: f.host, port: f.port, protocol: f.protocol, path: f.path})
  // USER:PASS@ in the URL (mosquitto -L) is a fallback for -u/-P; it never stays in the URL that errors and --json show.
  const urlUser = url.username === '' ? undefined : decodeURIComponent(url.username)
  const urlPass = url.password === '' ? undefined : decodeURIComponent(url.password)
  url.username = ''
  url.password = ''
  if (TCP_SCHEMES.has(url.protocol)) {
    url.pathname = ''
    url.search = ''
    url.hash = ''
  }
  const protocolVersion = parseProtocolVersion(f['protocol-version'])
  const properties: ConnectProperties = {}
  if (f['session-expiry'] !== undefined) properties.sessionExpiryInterval = f['session-expiry']
  // MQTT 5 ends a session at disconnect unless told otherwise: -c alone would keep nothing. mosquitto_sub -c means "never expires".
  else if (f['no-clean'] && protocolVersion === 5) properties.sessionExpiryInterval = 0xffffffff
  const userProps = userProperties((f['conn-user-property'] ?? []).map(parseUserProperty))
  if (userProps) properties.userProperties = userProps
  if (protocolVersion !== 5 && Object.keys(properties).length > 0) {
    throw new ConfigError('--session-expiry and --conn-user-property are MQTT 5 features: use -V 5')
  }
  const headers: Record<string, string> = {}
  for (const h of f.header ?? []) {
    const [k, v] = parseHeader(h)
    headers[k] = v
  }
  const options: ClientOptions = {
    url,
    protocolVersion,
    clientId: f.id ?? (f['id-prefix'] === undefined ? undefined : `${f['id-prefix']}${process.pid}`),
    clean: !f['no-clean'],
    keepalive: f.keepalive,
    username: f.username ?? urlUser,
    password: (await resolvePassword(f)) ?? urlPass,
    ...(f['auth-method'] === undefined ? {} : {authMethod: f['auth-method']}),
    properties: Object.keys(properties).length > 0 ? properties : undefined,
    connectTimeoutMs: f['connect-timeout'] * 1000,
    trace: f.debug ? traceToStderr : undefined,
    dial: {
      headers: Object.keys(headers).length > 0 ? headers : undefined,
      subprotocols: f['ws-subprotocol']?.split(',').map((s) => s.trim()).filter(Boolean),
      framing: parseFraming(f['ws-framing']),
      deflate: f['ws-deflate'] === true,
      tls: {
        ca: f.cafile ? await readPem(f.cafile, '--cafile') : undefined,
        cert: f.cert ? await readPem(f.cert, '--cert') : undefined,
        key: f.key ? await readPem(f.key, '--key') : undefined,
        insecure: f.insecure,
      },
    },
  }
  if (f['will-topic'] !== undefined) {
    options.will = {topic: f['will-topic'], payload: f['will-payload'] ?? '', qos: (f['will-qos'] ?? 0) as QoS, retain: f['will-retain']}
  }
  return options
}
