import assert from 'node:assert/strict'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {buildServeConfig} from '../../src/cli/serve-options.js'

describe('serve options: abuse protection flags', () => {
  it('land in guard and limits, on top of the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqttws-guard-flags-'))
    try {
      const file = join(dir, 'c.yaml')
      await writeFile(file, 'bans:\n  - clientId: a\nguard:\n  trustedProxies: ["10.0.0.0/8"]\n  flapping: {maxConnects: 5}\n')
      const {config} = await buildServeConfig({
        config: file,
        listen: ['mqtt://127.0.0.1:0'],
        'trusted-proxy': ['192.0.2.1', '2001:db8::/32,::1'],
        'proxy-protocol': 'require',
        flapping: true,
        'tls-min-version': 'TLSv1.3',
        'message-rate': 5,
      })
      const g = config.guard!
      assert.deepEqual(g.trustedProxies.map((n) => n.text), ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32', '::1'])
      assert.equal(g.proxyProtocol, 'require')
      assert.deepEqual({...g.flapping}, {maxConnects: 5, maxConnectsPerAddress: 0, windowMs: 60_000, banMs: 300_000, enabled: true})
      assert.equal(g.tlsMinVersion, 'TLSv1.3')
      assert.deepEqual(g.bans.map((b) => [b.kind, b.value]), [['clientId', 'a']])
      assert.equal(config.limits.messageRate, 5)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it('a bad network names the flag value and what to write', async () => {
    await assert.rejects(buildServeConfig({listen: ['mqtt://127.0.0.1:0'], 'trusted-proxy': ['10.0.0.0/99']}), /"10\.0\.0\.0\/99" has prefix length "\/99"/)
  })

  it('without them there is no guard section (the defaults)', async () => {
    const {config} = await buildServeConfig({listen: ['mqtt://127.0.0.1:0']})
    assert.equal(config.guard, undefined)
  })
})
