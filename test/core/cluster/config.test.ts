import assert from 'node:assert/strict'
import {resolveClusterConfig} from '../../../src/core/cluster/config.js'
import {resolveConfig} from '../../../src/core/config.js'
import {ConfigError} from '../../../src/core/errors.js'

describe('cluster: configuration', () => {
  it('takes servers as a comma-separated string, a list or an object, with defaults', () => {
    const c = resolveClusterConfig('nats://127.0.0.1:4222, 10.0.0.2:4223')
    assert.deepEqual(c.servers, ['nats://127.0.0.1:4222', 'nats://10.0.0.2:4223'])
    assert.equal(c.prefix, 'mqttws')
    assert.equal(c.heartbeatMs, 2000)
    assert.equal(c.name, undefined)
    assert.deepEqual(resolveClusterConfig({servers: ['tls://n.example:4222'], name: 'node-a', prefix: 'plant_1'}).servers, ['tls://n.example:4222'])
    assert.equal(resolveConfig({cluster: {servers: 'nats://127.0.0.1:4222', name: 'a'}}).cluster?.name, 'a')
    assert.equal(resolveConfig({}).cluster, undefined)
  })

  it('refuses bad values with the setting, the value and what to do', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{servers: []}, /cluster\.servers.*nats:\/\/127\.0\.0\.1:4222/],
      [{servers: 'http://x:1'}, /"http:\/\/x:1" is not a NATS server URL \(scheme http:\)/],
      [{servers: 'nats://x:1/path'}, /has a path/],
      [{servers: 'nats://x:1', name: 'a.b'}, /cluster\.name.*no spaces, "\.", "\*" or ">"/],
      [{servers: 'nats://x:1', prefix: 'a.b'}, /cluster\.prefix/],
      [{servers: 'nats://x:1', pass: 'p'}, /cluster\.pass" needs "cluster\.user"/],
      [{servers: 'nats://x:1', credentials: 'nope'}, /not the text of a NATS \.creds file/],
      [{servers: 'nats://x:1', tls: {cert: '-----BEGIN CERTIFICATE-----'}}, /go together/],
      [{servers: 'nats://x:1', heartbeatMs: 5}, /heartbeatMs.*100 to 60000/],
      [{servers: 'nats://x:1', color: 'red'}, /unknown setting "cluster\.color"/],
    ]
    for (const [input, message] of bad) {
      assert.throws(() => resolveClusterConfig(input), (e: unknown) => e instanceof ConfigError && message.test((e as Error).message), JSON.stringify(input))
    }
  })
})
