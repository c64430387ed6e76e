/** All terminal styling lives here (the only chalk importer). */
import chalk from 'chalk'
import type {ListenerInfo} from '../core/transport/types.js'

const SCHEME_LABEL: Record<string, string> = {
  mqtt: 'MQTT over TCP',
  mqtts: 'MQTT over TLS',
  ws: 'MQTT over WebSocket',
  wss: 'MQTT over secure WebSocket',
}

export function renderListening(listeners: readonly ListenerInfo[], devCertFile?: string): string {
  const lines = [chalk.bold('mqttws broker ready') + chalk.dim(' (MQTT 3.1, 3.1.1 and 5.0)')]
  const width = Math.max(...listeners.map((l) => l.url.length))
  for (const l of listeners) lines.push(`  ${chalk.cyan(l.url.padEnd(width))}  ${chalk.dim(SCHEME_LABEL[l.scheme] ?? l.scheme)}`)
  if (devCertFile) {
    lines.push(
      chalk.yellow(`  self-signed development certificate: ${devCertFile}`),
      chalk.dim('  (clients: trust it as CA, e.g. mosquitto_sub --cafile, or skip verification with --insecure)'),
    )
  }
  lines.push(chalk.dim('Press Ctrl-C to stop.'))
  return lines.join('\n')
}

/** One JSON line per listener, for scripts and tests (`serve --json`). */
export function listeningJson(l: ListenerInfo): string {
  return JSON.stringify({event: 'listening', id: l.id, scheme: l.scheme, host: l.host, port: l.port, url: l.url, ...(l.path ? {path: l.path} : {})})
}
