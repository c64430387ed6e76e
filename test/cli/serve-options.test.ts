import assert from 'node:assert/strict'
import path from 'node:path'
import {buildServeConfig, serveLimitFlags} from '../../src/cli/serve-options.js'
import {DEFAULTS} from '../../src/core/config.js'
import {ConfigError} from '../../src/core/errors.js'

describe('serve options: limit flags', () => {
  it('every flag lands on its limit (seconds become milliseconds)', async () => {
    const {config} = await buildServeConfig({
      listen: ['mqtt://127.0.0.1:0'],
      'max-packet-size': 4096,
      'connect-timeout': 3,
      'max-inflight': 7,
      'max-queued': 9,
      'max-queued-bytes': 10_000,
      'queue-overflow': 'drop-newest',
      'receive-maximum': 11,
      'topic-alias-maximum': 0,
      'max-topic-length': 200,
      'max-topic-levels': 12,
      'max-connections': 50,
      'max-keepalive': 120,
      'max-session-expiry': 3600,
      'max-output-bytes': 65536,
      'drain-timeout': 5,
      'max-qos': 1,
      'retain-available': false,
      'shared-strategy': 'sticky',
      'max-retained': 5,
      'max-retained-payload': 100,
      'max-connect-size': 2048,
      'max-pending-per-address': 8,
      'allow-reserved-topics': true,
      'connection-rate': 20,
      'message-rate': 30,
      'byte-rate': 4000,
      'data-dir': 'some/dir',
      'data-sync': 'full',
    })
    assert.deepEqual(config.persistence, {dir: path.resolve('some/dir'), synchronous: 'full'})
    assert.deepEqual({...config.limits}, {
      maxPacketSize: 4096,
      connectTimeoutMs: 3000,
      maxInflight: 7,
      maxQueuedMessages: 9,
      maxQueuedBytes: 10_000,
      queueOverflow: 'drop-newest',
      receiveMaximum: 11,
      topicAliasMaximum: 0,
      maxTopicLength: 200,
      maxTopicLevels: 12,
      maxConnections: 50,
      maxKeepalive: 120,
      maxSessionExpiry: 3600,
      maxOutputBytes: 65536,
      drainTimeoutMs: 5000,
      maxQos: 1,
      retainAvailable: false,
      maxRetainedMessages: 5,
      maxRetainedPayload: 100,
      maxConnectSize: 2048,
      maxPendingPerAddress: 8,
      allowReservedTopics: true,
      connectionRate: 20,
      messageRate: 30,
      byteRate: 4000,
    })
    assert.equal(config.sharedStrategy, 'sticky')
  })

  it('--ws-origins sets the allowed origins of every WebSocket listener', async () => {
    const {config} = await buildServeConfig({listen: ['ws://127.0.0.1:0', 'mqtt://127.0.0.1:0'], 'ws-origins': 'https://a.example, http://localhost:3000'})
    assert.deepEqual(config.listeners[0].ws?.origins, ['https://a.example', 'http://localhost:3000'])
  })

  it('without flags the defaults stay', async () => {
    const {config} = await buildServeConfig({listen: ['mqtt://127.0.0.1:0']})
    assert.deepEqual({...config.limits}, {...DEFAULTS.limits})
    assert.equal(config.sharedStrategy, DEFAULTS.sharedStrategy)
  })

  it('there is a flag for every limit, each in the LIMITS help group', () => {
    assert.equal(Object.keys(serveLimitFlags).length, Object.keys(DEFAULTS.limits).length + 1, 'one per limit, plus --shared-strategy')
    for (const [name, flag] of Object.entries(serveLimitFlags)) assert.equal((flag as {helpGroup?: string}).helpGroup, 'LIMITS', name)
  })

  it('a bad value is refused by the core validator, naming the setting', async () => {
    await assert.rejects(buildServeConfig({listen: ['mqtt://127.0.0.1:0'], 'max-output-bytes': 10}), (e: Error) => e instanceof ConfigError && /limits\.maxOutputBytes/.test(e.message))
  })

  it('--data-sync without a data directory says what is missing', async () => {
    await assert.rejects(buildServeConfig({listen: ['mqtt://127.0.0.1:0'], 'data-sync': 'full'}), /--data-sync needs a data directory: add --data-dir DIR/)
  })
})
