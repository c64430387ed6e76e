/**
 * `serve --dev-cert`: one development certificate per user, kept in the mqttws directory
 * (~/.mqttws, or $XDG_DATA_HOME/mqttws) and reused while it is valid for another day, so a
 * client's --cafile (or a browser's trust in it) survives restarts and nothing piles up in
 * the temporary directory. A new one is made when it is missing, unreadable, about to
 * expire, or does not cover the hosts.
 */
import {X509Certificate} from 'node:crypto'
import {chmod, mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join} from 'node:path'
import type {DevCertificate} from '../core/tls/dev-cert.js'
import {generateDevCertificate} from '../core/tls/dev-cert.js'

const DAY_MS = 86_400_000

export interface DevCertFiles {
  cert: string
  key: string
  /** The certificate file: the CA to trust (`--cafile FILE`). */
  file: string
  /** Whether it was made now (rather than reused). */
  created: boolean
}

export function devCertDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MQTTWS_DEV_CERT_DIR) return env.MQTTWS_DEV_CERT_DIR
  return env.XDG_DATA_HOME ? join(env.XDG_DATA_HOME, 'mqttws') : join(homedir(), '.mqttws')
}

function stillGood(certPem: string, hosts: readonly string[], now: number): boolean {
  try {
    const x = new X509Certificate(certPem)
    if (Date.parse(x.validTo) - now < DAY_MS || Date.parse(x.validFrom) > now) return false
    return hosts.every((h) => x.checkHost(h) !== undefined || x.checkIP(h) !== undefined)
  } catch {
    return false
  }
}

/** Reads the kept certificate, or makes and keeps a new one (the key with mode 0600). */
export async function loadDevCertificate(dir = devCertDir(), hosts: readonly string[] = ['localhost', '127.0.0.1', '::1']): Promise<DevCertFiles> {
  const file = join(dir, 'dev-cert.pem')
  const keyFile = join(dir, 'dev-key.pem')
  try {
    const [cert, key] = await Promise.all([readFile(file, 'utf8'), readFile(keyFile, 'utf8')])
    if (stillGood(cert, hosts, Date.now())) return {cert, key, file, created: false}
  } catch {
    // none yet, or unreadable: make one
  }
  const made: DevCertificate = await generateDevCertificate(hosts)
  await mkdir(dir, {recursive: true, mode: 0o700})
  // Written aside and renamed: two brokers starting at once never read half a file.
  const tmp = `.${process.pid}-${Date.now()}`
  await writeFile(keyFile + tmp, made.key, {mode: 0o600})
  await chmod(keyFile + tmp, 0o600)
  await writeFile(file + tmp, made.cert)
  await rename(keyFile + tmp, keyFile)
  await rename(file + tmp, file)
  return {cert: made.cert, key: made.key, file, created: true}
}
