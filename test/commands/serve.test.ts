/** `serve` run in-process through oclif: help text, usage errors and their exit codes. */
import assert from 'node:assert/strict'
import {runCommand} from '@oclif/test'

describe('command: serve', () => {
  it('documents its flags and examples in --help', async () => {
    const {stdout} = await runCommand(['serve', '--help'])
    for (const text of ['--listen', '--dev-cert', '--ws-path', '--ws-allow-no-subprotocol', '--ws-piggyback', '--max-packet-size', '--config', '--json', 'EXAMPLES']) {
      assert.ok(stdout.includes(text), `--help mentions ${text}`)
    }
  })

  it('exits 2 with the flag named for an unknown flag', async () => {
    const {error, stderr} = await runCommand(['serve', '--nope'])
    assert.ok(error)
    assert.equal(error.oclif?.exit, 2)
    assert.match(stderr, /unknown flag --nope/)
  })

  it('exits 2 for a listener URL with a bad scheme, naming it', async () => {
    const {error, stderr} = await runCommand(['serve', '--listen', 'http://127.0.0.1:0'])
    assert.ok(error)
    assert.equal(error.oclif?.exit, 2)
    assert.match(stderr, /unknown scheme "http:": use mqtt, mqtts, ws or wss/)
  })

  it('exits 2 when --tls-cert comes without --tls-key', async () => {
    const {error, stderr} = await runCommand(['serve', '--tls-cert', 'cert.pem'])
    assert.ok(error)
    assert.equal(error.oclif?.exit, 2)
    assert.match(stderr, /^Error: All of the following must be provided when using --tls-cert: --tls-key\n/)
  })
})
