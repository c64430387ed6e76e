import assert from 'node:assert/strict'
import {X509Certificate} from 'node:crypto'
import {mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {loadDevCertificate} from '../../src/cli/dev-cert-file.js'
import {generateDevCertificate} from '../../src/core/tls/dev-cert.js'

describe('serve --dev-cert: one kept development certificate', function () {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'mqttws-devcert-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('is made once and reused by the next start (the same file and certificate), the key only for the user', async function () {
    const first = await loadDevCertificate(dir)
    assert.equal(first.created, true)
    const again = await loadDevCertificate(dir)
    assert.equal(again.created, false)
    assert.equal(again.file, first.file)
    assert.equal(again.cert, first.cert)
    assert.deepEqual(readdirSync(dir).sort(), ['dev-cert.pem', 'dev-key.pem'])
    assert.equal(statSync(path.join(dir, 'dev-key.pem')).mode & 0o777, 0o600)
    assert.ok(new X509Certificate(again.cert).checkHost('localhost'))
  })

  it('is made anew when it is about to expire, or is not a certificate', async function () {
    const short = await generateDevCertificate(['localhost', '127.0.0.1', '::1'], 0.5)
    writeFileSync(path.join(dir, 'dev-cert.pem'), short.cert)
    writeFileSync(path.join(dir, 'dev-key.pem'), short.key)
    const renewed = await loadDevCertificate(dir)
    assert.equal(renewed.created, true)
    assert.notEqual(renewed.cert, short.cert)
    writeFileSync(path.join(dir, 'dev-cert.pem'), 'not a certificate')
    assert.equal((await loadDevCertificate(dir)).created, true)
  })
})
