import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {exportSPKI, generateKeyPair} from 'jose'
import {buildServeConfig} from '../../src/cli/serve-options.js'
import {createAuthChain} from '../../src/core/auth/chain.js'
import {resolveAuthConfig} from '../../src/core/auth/config.js'
import {ConfigError} from '../../src/core/errors.js'
import {Broker} from '../../src/core/broker/broker.js'
import {resolveConfig} from '../../src/core/config.js'
import {tempDir} from '../helpers/auth.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'

describe('auth settings: serve flags, the config file, validation', () => {
  it('flags add authenticators after the config file, in the order password file, JWT, HTTP; paths are absolute', async () => {
    const dir = tempDir()
    const key = join(dir, 'pub.pem')
    writeFileSync(key, await exportSPKI((await generateKeyPair('ES256', {extractable: true})).publicKey))
    const config = join(dir, 'mqttws.yaml')
    writeFileSync(config, 'auth:\n  authenticators:\n    - {type: password-file, file: users.txt}\n    - {type: jwt, id: keyed, publicKeyFile: pub.pem, audience: mqttws}\n')
    const {config: c} = await buildServeConfig({config, listen: ['mqtt://127.0.0.1:0'], 'password-file': 'more.txt', 'jwt-secret': SECRET, 'jwt-issuer': 'me', 'auth-http': 'http://127.0.0.1:9/auth', 'allow-anonymous': true})
    const a = c.auth!
    assert.equal(a.allowAnonymous, true)
    assert.deepEqual(
      a.authenticators.map((x) => [x.type, x.id]),
      [
        ['password-file', 'password-file'],
        ['jwt', 'keyed'],
        ['password-file', 'password-file-2'],
        ['jwt', 'jwt'],
        ['http', 'http'],
      ],
    )
    assert.equal((a.authenticators[0] as {file: string}).file, join(dir, 'users.txt'))
    assert.equal((a.authenticators[2] as {file: string}).file, join(process.cwd(), 'more.txt'))
    assert.match((a.authenticators[1] as {publicKey: string}).publicKey, /BEGIN PUBLIC KEY/)
    assert.deepEqual((a.authenticators[3] as {issuer?: readonly string[]}).issuer, ['me'])
  })

  it('no auth flags and no auth section: no auth setting at all', async () => {
    const {config} = await buildServeConfig({listen: ['mqtt://127.0.0.1:0']})
    assert.equal(config.auth, undefined)
  })

  it('refuses what would not be safe or cannot work, naming the setting', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{authenticators: [{type: 'ldap'}]}, /auth.authenticators\[0\].type.*use password-file, jwt, http/],
      [{authenticators: [{type: 'jwt'}]}, /needs exactly one of secret.*publicKey.*jwksUrl; it has 0/],
      [{authenticators: [{type: 'jwt', secret: 'short'}]}, /5 bytes long: an HMAC secret needs at least 32 bytes/],
      [{authenticators: [{type: 'jwt', secret: SECRET, algorithms: ['RS256']}]}, /"RS256" does not go with a secret/],
      [{authenticators: [{type: 'jwt', secret: SECRET, algorithms: ['none']}]}, /"none" does not go with a secret/],
      [{authenticators: [{type: 'jwt', jwksUrl: 'http://127.0.0.1:9/k', algorithms: ['HS256']}]}, /"HS256" does not go with a public key/],
      [{authenticators: [{type: 'jwt', secret: SECRET, verifyClaims: {exp: '1'}}]}, /"exp" is checked by itself/],
      [{authenticators: [{type: 'http', url: 'ftp://x'}]}, /it must be an http:\/\/ or https:\/\/ URL/],
      [{authenticators: [{type: 'password-file', file: 'a'}, {type: 'password-file', file: 'b'}]}, /two authenticators have the id "password-file"/],
      [{authenticators: [{type: 'password-file', file: 'a', hash: 'md5'}]}, /unknown setting "auth.authenticators\[0\].hash"/],
      [{allowAnonymous: 'yes'}, /auth.allowAnonymous.*true or false/],
    ]
    for (const [input, message] of bad) assert.throws(() => resolveAuthConfig(input), (e: Error) => e instanceof ConfigError && message.test(e.message), JSON.stringify(input))
  })

  it('a public key of one kind refuses the algorithms of another', async () => {
    const publicKey = await exportSPKI((await generateKeyPair('ES256', {extractable: true})).publicKey)
    assert.throws(() => createAuthChain(resolveAuthConfig({authenticators: [{type: 'jwt', publicKey, algorithms: ['RS256']}]})), /RS256 does not fit the ec public key: use ES256/)
  })

  it('no authenticator: loopback listeners only, unless anonymous clients are allowed explicitly', () => {
    const open = createAuthChain(resolveAuthConfig({}))
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) assert.equal(open.listenerProblem({id: 'l', host}), undefined, host)
    for (const host of ['0.0.0.0', '::', '192.168.1.10']) assert.match(open.listenerProblem({id: 'l', host})!, /not loopback/, host)
    assert.equal(createAuthChain(resolveAuthConfig({allowAnonymous: true})).listenerProblem({id: 'l', host: '0.0.0.0'}), undefined)
    assert.equal(createAuthChain(resolveAuthConfig({authenticators: [{type: 'password-file', file: 'x'}]})).listenerProblem({id: 'l', host: '0.0.0.0'}), undefined)
  })

  it('a listener added or moved at runtime to a public address is refused too (no authenticator)', async () => {
    const broker = new Broker(resolveConfig({listeners: ['mqtt://127.0.0.1:0']}))
    await broker.listen()
    try {
      await assert.rejects(broker.createListener('mqtt://0.0.0.0:0'), /binds 0\.0\.0\.0, which is not loopback/)
      assert.equal(broker.listenerTable.size, 1)
      const [id] = broker.listenerTable.keys()
      await assert.rejects(broker.updateListener(id, {url: 'mqtt://0.0.0.0:0'}), /not loopback/)
      assert.equal(broker.listenerStatus(id).host, '127.0.0.1')
    } finally {
      await broker.close()
    }
  })

  it('--tls-client-ca asks TLS listeners for client certificates; --auth-client-cert puts the client-cert authenticator first', async () => {
    const dir = tempDir()
    const caFile = join(dir, 'ca.pem')
    const {testCertificate} = await import('../helpers/certs.js')
    writeFileSync(caFile, (await testCertificate()).cert)
    const {config} = await buildServeConfig({listen: ['mqtts://127.0.0.1:0'], 'dev-cert': true, 'tls-client-ca': caFile, 'tls-client-cert': 'require', 'auth-client-cert': true, 'password-file': 'p'})
    assert.equal(config.listeners[0].tls?.clientCert, 'require')
    assert.match(config.listeners[0].tls!.clientCa!, /BEGIN CERTIFICATE/)
    assert.deepEqual(config.auth!.authenticators.map((a) => a.type), ['client-cert', 'password-file'])
    await assert.rejects(buildServeConfig({listen: ['mqtts://127.0.0.1:0'], 'tls-client-ca': caFile}), /--tls-client-ca needs a server certificate/)
    assert.throws(() => resolveConfig({tls: {cert: config.listeners[0].tls!.cert, key: config.listeners[0].tls!.key, clientCert: 'require'}}), /clientCert" needs "tls.clientCa"/)
  })
})
