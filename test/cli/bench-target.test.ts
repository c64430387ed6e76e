import assert from 'node:assert/strict'
import {urlsFromHost} from '../../src/cli/bench-target.js'
import {ConfigError} from '../../src/core/errors.js'

describe('bench -h/-p (urlsFromHost)', () => {
  it('none without -h or -p: the embedded broker', () => {
    assert.deepEqual(urlsFromHost(undefined, undefined, ['tcp', 'ws']), [])
  })

  it('-h: one URL per transport at its usual port', () => {
    assert.deepEqual(urlsFromHost('broker.local', undefined, ['tcp', 'tls', 'ws', 'wss']), [
      'mqtt://broker.local:1883',
      'mqtts://broker.local:8883',
      'ws://broker.local:8083/mqtt',
      'wss://broker.local:8084/mqtt',
    ])
  })

  it('-p with one transport; host localhost unless -h', () => {
    assert.deepEqual(urlsFromHost(undefined, 1884, ['tcp']), ['mqtt://localhost:1884'])
    assert.deepEqual(urlsFromHost('127.0.0.1', 9001, ['ws']), ['ws://127.0.0.1:9001/mqtt'])
  })

  it('-p with several transports is a usage error that says what to do', () => {
    assert.throws(() => urlsFromHost('h', 1883, ['tcp', 'ws']), (e: unknown) => e instanceof ConfigError && /measure one transport \(-T tcp\), or give one -L URL per transport/.test(e.message))
  })
})
