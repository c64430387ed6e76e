/**
 * The client-certificate authenticator (mTLS). A TLS listener with `tls.clientCa` asks
 * clients for a certificate; the transport reports it only when it verified against that
 * CA (transport/tls.ts), so a certificate seen here is trusted. It allows the client, with
 * the certificate's CN as its user name (`cnAsUsername`, default) or the user name it sent.
 * No certificate: ignore, and the next authenticator decides (a password, a token).
 */
import type {ConnectInfo} from '../broker/auth.js'
import type {ClientCertConfig} from './config.js'
import type {Authenticator, Decision} from './types.js'

export class ClientCertAuthenticator implements Authenticator {
  readonly type = 'client-cert'
  readonly id: string

  constructor(private readonly config: ClientCertConfig) {
    this.id = config.id
  }

  async authenticate(info: ConnectInfo): Promise<Decision> {
    const cert = info.peerCertificate
    if (cert === undefined) return {result: 'ignore'}
    const cn = typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined
    if (this.config.cnAsUsername && (cn === undefined || cn === '')) return {result: 'ignore', presented: true}
    const username = this.config.cnAsUsername ? cn : info.username
    return {
      result: 'allow',
      grant: {
        ...(username === undefined ? {} : {username}),
        attributes: {certificate: {subject: cert.subject, issuer: cert.issuer, serialNumber: cert.serialNumber, fingerprint256: cert.fingerprint256, validTo: cert.valid_to}},
      },
    }
  }

  describe(): Record<string, unknown> {
    return {type: this.type, id: this.id, cnAsUsername: this.config.cnAsUsername}
  }
}
