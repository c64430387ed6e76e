/**
 * `mqttws init`: the answers (from prompts or flags), their checks, and the commented YAML
 * config file they make, which `serve --config` loads.
 */
import {isIP} from 'node:net'
import {stringify} from 'yaml'
import {ConfigError} from '../core/errors.js'

export type TlsChoice = 'none' | 'dev' | 'files'

export interface InitAnswers {
  host: string
  /** undefined: no such listener; 0: a free port. */
  tcpPort?: number
  wsPort?: number
  wsPath: string
  tls: TlsChoice
  tlsPort?: number
  wssPort?: number
  /** Relative to the config file (as serve reads them). */
  tlsCert?: string
  tlsKey?: string
  /** A first user: the password file is created with it. */
  user?: string
  /** Relative to the config file. */
  passwordFile: string
  /** Relative to the config file; undefined: in memory. */
  dataDir?: string
  /** http://HOST:PORT, or undefined: off. */
  admin?: string
}

/** "1883" → 1883, "off"/"" → undefined; a port is 0 (any free one) to 65535. */
export function parsePort(text: string, what: string): number | undefined {
  const t = text.trim().toLowerCase()
  if (t === '' || t === 'off' || t === 'no' || t === 'none') return undefined
  const n = Number(t)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${what} "${text}" is not a port: give 0 to 65535 (0 picks a free one), or off`)
  return n
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}

function hostInUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host
}

/** What serve would refuse, said before anything is written. */
export function checkAnswers(a: InitAnswers, allowAnonymous: boolean): void {
  if (a.tcpPort === undefined && a.wsPort === undefined && (a.tls === 'none' || (a.tlsPort === undefined && a.wssPort === undefined))) {
    throw new ConfigError('no listener: keep at least one of the TCP, WebSocket, TLS or WSS ports')
  }
  if (!a.wsPath.startsWith('/')) throw new ConfigError(`WebSocket path "${a.wsPath}" must start with /, e.g. /mqtt`)
  if (a.tls === 'files' && (!a.tlsCert || !a.tlsKey)) throw new ConfigError('TLS with your own files needs both --tls-cert and --tls-key (PEM files)')
  if (a.user === undefined && !isLoopback(a.host) && !allowAnonymous) {
    throw new ConfigError(`listening on ${a.host} without authentication would let anyone in: add a first user (--user NAME), or --allow-anonymous`)
  }
  if (a.user !== undefined && (a.user === '' || a.user.includes(':'))) throw new ConfigError(`user name "${a.user}" must be non-empty and without ":"`)
}

const q = (v: string): string => stringify(v).trimEnd()

/** The config file: commented YAML, in the order of serve's settings. */
export function renderInitConfig(a: InitAnswers, allowAnonymous: boolean, file: string, now = new Date()): string {
  const h = hostInUrl(a.host)
  const lines: string[] = [
    `# mqttws serve configuration, written by \`mqttws init\` on ${now.toISOString().slice(0, 10)}.`,
    `# Start the broker with:  mqttws serve --config ${file}`,
    `# Check it after edits:   mqttws config check ${file}`,
    '# Every setting is described in README.md ("Configuration file") and docs/broker.md.',
    '# Relative paths in this file are relative to this file.',
    '',
    '# Listeners (these replace the defaults). Port 0 picks a free port.',
    'listeners:',
  ]
  const listener = (url: string, what: string): number => lines.push(`  - ${url.padEnd(32)} # ${what}`)
  if (a.tcpPort !== undefined) listener(`mqtt://${h}:${a.tcpPort}`, 'MQTT over TCP')
  if (a.wsPort !== undefined) listener(`ws://${h}:${a.wsPort}${a.wsPath}`, 'MQTT over WebSocket')
  if (a.tls !== 'none' && a.tlsPort !== undefined) listener(`mqtts://${h}:${a.tlsPort}`, 'MQTT over TLS')
  if (a.tls !== 'none' && a.wssPort !== undefined) listener(`wss://${h}:${a.wssPort}${a.wsPath}`, 'MQTT over secure WebSocket')
  lines.push('')
  if (a.tls === 'dev') {
    lines.push(
      '# TLS for mqtts:// and wss://: a self-signed development certificate, kept in ~/.mqttws and',
      '# reused while valid; clients trust it with --cafile (serve prints the file). Not for production.',
      'devCert: true',
      '',
    )
  } else if (a.tls === 'files') {
    lines.push('# TLS for mqtts:// and wss://: your certificate (chain) and its private key, PEM files.', `tls: {cert: ${q(a.tlsCert!)}, key: ${q(a.tlsKey!)}}`, '')
  }
  if (a.user !== undefined) {
    lines.push(
      '# Authentication: users in a Mosquitto-compatible password file. Add or change users with',
      `# \`mqttws passwd ${a.passwordFile} USER\`; a running serve re-reads the file on SIGHUP.`,
      'auth:',
      `  allowAnonymous: ${allowAnonymous}`,
      '  authenticators:',
      '    - type: password-file',
      `      file: ${q(a.passwordFile)}`,
      '',
      '# Authorization: what each user may do (README.md, "Authorization"). With users and no rule,',
      '# nothing would be allowed (noMatch: deny). Mosquitto acl_file syntax: "pattern" lines apply',
      '# to every client, %u is its user name, %c its client id; $SYS/# needs a rule of its own.',
      'authorization:',
      '  acl: |',
      '    pattern readwrite #',
      '    # narrower, e.g.: pattern readwrite users/%u/#',
      '    #                 pattern read $SYS/#',
      '',
    )
  } else {
    lines.push(
      '# Authentication: none, every client is let in' + (allowAnonymous ? ' (allowAnonymous: also on a public address).' : '; serve refuses to listen beyond loopback this way.'),
      '# Add users with `mqttws passwd -c ./passwd USER` and an auth section (README.md, "Authentication").',
    )
    if (allowAnonymous) lines.push('auth:', '  allowAnonymous: true')
    lines.push('')
  }
  if (a.dataDir !== undefined) {
    lines.push('# Durable sessions, offline queues and retained messages (SQLite), across restarts.', 'persistence:', `  dir: ${q(a.dataDir)}`, '  synchronous: normal   # full: also survives a power loss (slower)', '')
  } else {
    lines.push('# Sessions and retained messages are kept in memory; for durable ones add:', '# persistence:', '#   dir: ./mqttws-data', '')
  }
  if (a.admin !== undefined) {
    lines.push('# The admin API and the dashboard (mqttws listeners, mqttws clients). Its token is written', '# to a file at start (serve prints where); set one here with token: …', 'admin:', `  url: ${a.admin}`, '')
  } else {
    lines.push('# No admin API or dashboard.', 'admin: false', '')
  }
  lines.push('logLevel: info')
  return `${lines.join('\n')}\n`
}
