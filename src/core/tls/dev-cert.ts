/**
 * A self-signed development certificate for localhost, so that mqtts:// and wss://
 * work at once on a dev box (clients then need --insecure or this certificate as CA).
 * `selfsigned` builds the X.509 structure; writing ASN.1 by hand is not our business.
 */
import selfsigned from 'selfsigned'
import type {TlsMaterial} from '../config.js'

export interface DevCertificate extends TlsMaterial {
  fingerprint: string
}

export async function generateDevCertificate(hosts: readonly string[] = ['localhost', '127.0.0.1', '::1'], days = 30): Promise<DevCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000)
  const notAfterDate = new Date(notBeforeDate.getTime() + days * 86_400_000)
  const altNames = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? {type: 7 as const, ip: h} : {type: 2 as const, value: h}))
  const pems = await selfsigned.generate([{name: 'commonName', value: hosts[0] ?? 'localhost'}], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      {name: 'basicConstraints', cA: true},
      {name: 'keyUsage', digitalSignature: true, keyCertSign: true},
      {name: 'extKeyUsage', serverAuth: true},
      {name: 'subjectAltName', altNames},
    ],
  })
  return {cert: pems.cert, key: pems.private, ca: pems.cert, fingerprint: pems.fingerprint}
}
