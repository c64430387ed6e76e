import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {generateDevCertificate} from '../../src/core/tls/dev-cert.js'
import type {DevCertificate} from '../../src/core/tls/dev-cert.js'

let cached: Promise<DevCertificate> | undefined

/** One self-signed certificate for localhost/127.0.0.1, made once per test run. */
export function testCertificate(): Promise<DevCertificate> {
  cached ??= generateDevCertificate(['localhost', '127.0.0.1'], 2)
  return cached
}

/** The test certificate written to PEM files, for CLI tests: {dir, cert, key}. */
export async function testCertificateFiles(): Promise<{dir: string; cert: string; key: string}> {
  const c = await testCertificate()
  const dir = mkdtempSync(join(tmpdir(), 'mqttws-certs-'))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  writeFileSync(cert, c.cert)
  writeFileSync(key, c.key, {mode: 0o600})
  return {dir, cert, key}
}
