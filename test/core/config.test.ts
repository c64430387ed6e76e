import assert from 'node:assert/strict'
import {DEFAULTS, DEFAULT_SUBPROTOCOLS, listenerUrl, parseListenUrl, requireOrigins, resolveConfig} from '../../src/core/config.js'
import type {BrokerConfigInput, ListenerConfig, ParsedListenUrl} from '../../src/core/config.js'
import {ConfigError, ErrorCode} from '../../src/core/errors.js'

// Not a real key pair: resolveConfig only checks that the text is PEM.
const TLS = {cert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', key: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n'}

const DEFAULT_WS = {path: '/mqtt', subprotocols: [...DEFAULT_SUBPROTOCOLS], allowNoSubprotocol: false, piggyback: false, deflate: false}

/** Asserts that `fn` throws a ConfigError whose message contains every one of `parts`. */
function assertConfigError(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    assert.equal(error.code, ErrorCode.CONFIG)
    for (const part of parts) assert.ok(error.message.includes(part), `message ${JSON.stringify(error.message)} should contain ${JSON.stringify(part)}`)
    return true
  })
}

/** The listeners as plain objects (the config is frozen, with frozen arrays inside). */
function listeners(input: BrokerConfigInput): ListenerConfig[] {
  return JSON.parse(JSON.stringify(resolveConfig(input).listeners)) as ListenerConfig[]
}

describe('config', () => {
  describe('parseListenUrl', () => {
    const TABLE: Array<[string, ParsedListenUrl]> = [
      ['mqtt://127.0.0.1:1883', {scheme: 'mqtt', host: '127.0.0.1', port: 1883}],
      ['tcp://0.0.0.0:1884', {scheme: 'mqtt', host: '0.0.0.0', port: 1884}],
      ['mqtts://example.com:8883', {scheme: 'mqtts', host: 'example.com', port: 8883}],
      ['tls://h:9000', {scheme: 'mqtts', host: 'h', port: 9000}],
      ['ssl://h:9001', {scheme: 'mqtts', host: 'h', port: 9001}],
      ['ws://h:8080/mqtt', {scheme: 'ws', host: 'h', port: 8080, path: '/mqtt'}],
      ['wss://h:443/a/b', {scheme: 'wss', host: 'h', port: 443, path: '/a/b'}],
      // default ports
      ['mqtt://h', {scheme: 'mqtt', host: 'h', port: 1883}],
      ['tcp://h', {scheme: 'mqtt', host: 'h', port: 1883}],
      ['mqtts://h', {scheme: 'mqtts', host: 'h', port: 8883}],
      ['tls://h', {scheme: 'mqtts', host: 'h', port: 8883}],
      ['ssl://h', {scheme: 'mqtts', host: 'h', port: 8883}],
      ['ws://h', {scheme: 'ws', host: 'h', port: 8083, path: '/mqtt'}],
      ['wss://h', {scheme: 'wss', host: 'h', port: 8084, path: '/mqtt'}],
      // port 0, and port 80 (which URL would drop as http's default)
      ['mqtt://127.0.0.1:0', {scheme: 'mqtt', host: '127.0.0.1', port: 0}],
      ['ws://127.0.0.1:0', {scheme: 'ws', host: '127.0.0.1', port: 0, path: '/mqtt'}],
      ['ws://h:80', {scheme: 'ws', host: 'h', port: 80, path: '/mqtt'}],
      // an empty host is the default host
      ['mqtt://:1883', {scheme: 'mqtt', host: '127.0.0.1', port: 1883}],
      ['ws://:0/x', {scheme: 'ws', host: '127.0.0.1', port: 0, path: '/x'}],
      // IPv6
      ['mqtt://[::1]:1883', {scheme: 'mqtt', host: '::1', port: 1883}],
      ['mqtt://[::1]', {scheme: 'mqtt', host: '::1', port: 1883}],
      ['ws://[::]:0/x', {scheme: 'ws', host: '::', port: 0, path: '/x'}],
      // ws paths: default, explicit root, explicit
      ['ws://h:1', {scheme: 'ws', host: 'h', port: 1, path: '/mqtt'}],
      ['ws://h:1/', {scheme: 'ws', host: 'h', port: 1, path: '/'}],
      ['ws://h:1/custom', {scheme: 'ws', host: 'h', port: 1, path: '/custom'}],
      // a trailing slash on mqtt:// is not a path; scheme case does not matter
      ['mqtt://h:1/', {scheme: 'mqtt', host: 'h', port: 1}],
      ['MQTT://h:2', {scheme: 'mqtt', host: 'h', port: 2}],
      ['  mqtt://h:3  ', {scheme: 'mqtt', host: 'h', port: 3}],
    ]
    for (const [url, expected] of TABLE) {
      it(`${JSON.stringify(url)} → ${JSON.stringify(expected)}`, () => assert.deepEqual(parseListenUrl(url), expected))
    }

    it('uses the given default host and path', () => {
      assert.deepEqual(parseListenUrl('ws://:8083', {host: '::1', path: '/p'}), {scheme: 'ws', host: '::1', port: 8083, path: '/p'})
      assert.deepEqual(parseListenUrl('ws://h:8083', {host: '::1', path: '/p'}), {scheme: 'ws', host: 'h', port: 8083, path: '/p'})
    })

    const ERRORS: Array<[string, string[]]> = [
      ['http://h:1', ['"http://h:1"', 'unknown scheme "http:"']],
      ['mqtt+ws://h:1', ['"mqtt+ws://h:1"', 'is not a URL']],
      ['127.0.0.1:1883', ['"127.0.0.1:1883"', 'is not a URL']],
      ['mqtt://h:1883/path', ['"mqtt://h:1883/path"', 'has a path', 'mqtt://']],
      ['mqtts://h:1/x', ['"mqtts://h:1/x"', 'has a path', 'mqtts://']],
      ['mqtt://h:70000', ['"mqtt://h:70000"', 'port 70000', '0 to 65535']],
      ['ws://h:65536/mqtt', ['"ws://h:65536/mqtt"', 'port 65536', '0 to 65535']],
      ['mqtt://user:secret@h:1883', ['"mqtt://user:secret@h:1883"', 'credentials']],
      ['ws://user@h:1/mqtt', ['"ws://user@h:1/mqtt"', 'credentials']],
      ['ws://h:1/mqtt?x=1', ['"ws://h:1/mqtt?x=1"', 'query or fragment']],
      ['mqtt://h:1#frag', ['"mqtt://h:1#frag"', 'query or fragment']],
      ['mqtt://[::1:1883', ['"mqtt://[::1:1883"', 'is not a valid URL']],
      ['mqtt://h:-1', ['"mqtt://h:-1"', 'is not a valid URL']],
    ]
    for (const [url, parts] of ERRORS) {
      it(`refuses ${JSON.stringify(url)}`, () => assertConfigError(() => parseListenUrl(url), ...parts))
    }
  })

  describe('listenerUrl', () => {
    it('brackets IPv6 hosts and appends the ws path', () => {
      assert.equal(listenerUrl({scheme: 'mqtt', host: '127.0.0.1', port: 1883}), 'mqtt://127.0.0.1:1883')
      assert.equal(listenerUrl({scheme: 'wss', host: '::1', port: 8084, ws: {path: '/mqtt'}}), 'wss://[::1]:8084/mqtt')
    })
  })

  describe('resolveConfig defaults', () => {
    it('without input: MQTT on 1883 and WebSocket on 8083/mqtt, on 127.0.0.1', () => {
      const config = resolveConfig()
      assert.deepEqual(JSON.parse(JSON.stringify(config.listeners)), [
        {id: 'mqtt:1883', scheme: 'mqtt', host: '127.0.0.1', port: 1883},
        {id: 'ws:8083', scheme: 'ws', host: '127.0.0.1', port: 8083, ws: DEFAULT_WS},
      ])
      assert.deepEqual({...config.limits}, {...DEFAULTS.limits})
      assert.deepEqual({...config.limits}, {
        maxPacketSize: 2_097_152,
        connectTimeoutMs: 10_000,
        maxInflight: 100,
        maxQueuedMessages: 1000,
        maxQueuedBytes: 16 * 1024 * 1024,
        queueOverflow: 'drop-oldest',
        receiveMaximum: 100,
        topicAliasMaximum: 10,
        maxTopicLength: 65535,
        maxTopicLevels: 128,
        maxConnections: 0,
        maxKeepalive: 0,
        maxSessionExpiry: 4294967295,
        maxOutputBytes: 1_048_576,
        drainTimeoutMs: 30_000,
        maxQos: 2,
        retainAvailable: true,
        maxRetainedMessages: 0,
        maxRetainedPayload: 0,
        maxConnectSize: 65_536,
        maxPendingPerAddress: 256,
        allowReservedTopics: false,
        connectionRate: 0,
        messageRate: 0,
        byteRate: 0,
      })
      assert.equal(config.sharedStrategy, 'round-robin')
      assert.equal(config.persistence, undefined, 'in memory unless a data directory is given')
    })

    it('with TLS material: also MQTT over TLS on 8883 and secure WebSocket on 8084', () => {
      assert.deepEqual(listeners({tls: TLS}), [
        {id: 'mqtt:1883', scheme: 'mqtt', host: '127.0.0.1', port: 1883},
        {id: 'ws:8083', scheme: 'ws', host: '127.0.0.1', port: 8083, ws: DEFAULT_WS},
        {id: 'mqtts:8883', scheme: 'mqtts', host: '127.0.0.1', port: 8883, tls: TLS},
        {id: 'wss:8084', scheme: 'wss', host: '127.0.0.1', port: 8084, ws: DEFAULT_WS, tls: TLS},
      ])
    })

    it('the default listeners follow host and ws.path', () => {
      assert.deepEqual(listeners({host: '::1', ws: {path: '/ws'}}), [
        {id: 'mqtt:1883', scheme: 'mqtt', host: '::1', port: 1883},
        {id: 'ws:8083', scheme: 'ws', host: '::1', port: 8083, ws: {...DEFAULT_WS, path: '/ws'}},
      ])
    })

    it('the result is frozen', () => {
      const config = resolveConfig({listeners: ['ws://127.0.0.1:0']})
      assert.ok(Object.isFrozen(config) && Object.isFrozen(config.listeners) && Object.isFrozen(config.limits))
      assert.ok(Object.isFrozen(config.listeners[0]) && Object.isFrozen(config.listeners[0].ws))
    })

    it('limits override the defaults one by one', () => {
      const config = resolveConfig({limits: {maxPacketSize: 16, maxQueuedMessages: 0}})
      assert.deepEqual({...config.limits}, {...DEFAULTS.limits, maxPacketSize: 16, maxQueuedMessages: 0})
    })

    it('every limit can be set, and the shared subscription strategy too', () => {
      const limits = {
        maxPacketSize: 4096,
        connectTimeoutMs: 500,
        maxInflight: 5,
        maxQueuedMessages: 7,
        maxQueuedBytes: 9000,
        queueOverflow: 'drop-newest' as const,
        receiveMaximum: 20,
        topicAliasMaximum: 0,
        maxTopicLength: 100,
        maxTopicLevels: 8,
        maxConnections: 3,
        maxKeepalive: 60,
        maxSessionExpiry: 3600,
        maxOutputBytes: 2048,
        drainTimeoutMs: 0,
        maxQos: 1 as const,
        retainAvailable: false,
        maxRetainedMessages: 500,
        maxRetainedPayload: 4096,
        maxConnectSize: 1000,
        maxPendingPerAddress: 0,
        allowReservedTopics: true,
        connectionRate: 7,
        messageRate: 8,
        byteRate: 9,
      }
      const config = resolveConfig({limits, sharedStrategy: 'sticky'})
      assert.deepEqual({...config.limits}, limits)
      assert.equal(config.sharedStrategy, 'sticky')
      assert.deepEqual(Object.keys(limits).sort(), Object.keys(DEFAULTS.limits).sort(), 'this test covers every limit')
    })
  })

  describe('resolveConfig: WebSocket listeners that authenticate from the upgrade request (row 58)', () => {
    it('get the admin API origin as their allowed origin when they have none', () => {
      const config = resolveConfig({listeners: [{url: 'ws://127.0.0.1:0', ws: {authFromUpgrade: true}}, 'ws://127.0.0.1:0/other']})
      assert.deepEqual(config.listeners[0].ws?.origins, ['http://127.0.0.1:18083'])
      assert.equal(config.listeners[1].ws?.origins, undefined, 'a listener that does not authenticate from the upgrade keeps any origin')
      const admin = resolveConfig({admin: {url: 'http://[::1]:9000'}, ws: {authFromUpgrade: true}, listeners: ['ws://127.0.0.1:0']})
      assert.deepEqual(admin.listeners[0].ws?.origins, ['http://[::1]:9000'])
    })

    it('keep the origins they were given', () => {
      const config = resolveConfig({listeners: [{url: 'ws://127.0.0.1:0', ws: {authFromUpgrade: true, origins: ['https://app.example']}}]})
      assert.deepEqual(config.listeners[0].ws?.origins, ['https://app.example'])
    })

    it('requireOrigins: the rule on its own, for listeners made elsewhere', () => {
      const l = resolveConfig({listeners: [{url: 'ws://127.0.0.1:0', ws: {authFromUpgrade: true, origins: ['https://a.example']}}]}).listeners[0]
      const bare = {...l, ws: {...l.ws!, origins: undefined}}
      assert.deepEqual(requireOrigins(bare, 'http://127.0.0.1:18083').ws?.origins, ['http://127.0.0.1:18083'])
      assert.throws(() => requireOrigins(bare, undefined), /needs the origins allowed to connect/)
      const plain = resolveConfig({listeners: ['ws://127.0.0.1:0']}).listeners[0]
      assert.equal(requireOrigins(plain, undefined), plain)
    })
  })

  describe('resolveConfig persistence', () => {
    it('takes a data directory and a synchronous mode (normal by default)', () => {
      assert.deepEqual(resolveConfig({persistence: {dir: '/var/lib/mqttws'}}).persistence, {dir: '/var/lib/mqttws', synchronous: 'normal'})
      assert.deepEqual(resolveConfig({persistence: {dir: 'd', synchronous: 'full'}}).persistence, {dir: 'd', synchronous: 'full'})
    })

    it('names what is wrong', () => {
      assert.throws(() => resolveConfig({persistence: {dir: ''}}), /setting "persistence.dir" is "": it must be a non-empty string/)
      assert.throws(() => resolveConfig({persistence: {dir: 'd', synchronous: 'off' as never}}), /setting "persistence.synchronous" is "off": use one of normal, full/)
      assert.throws(() => resolveConfig({persistence: {dir: 'd', path: 'x'} as never}), /unknown setting "persistence.path": known settings here are dir, synchronous/)
    })
  })

  describe('resolveConfig listeners', () => {
    it('a ws listener takes its path from the URL, else from ws.path, and its own ws options', () => {
      const got = listeners({
        ws: {path: '/global', piggyback: true},
        listeners: ['ws://127.0.0.1:1', 'ws://127.0.0.1:2/own', {url: 'ws://127.0.0.1:3/url', ws: {path: '/opt', allowNoSubprotocol: true}}],
      })
      assert.deepEqual(
        got.map((l) => l.ws),
        [
          {...DEFAULT_WS, path: '/global', piggyback: true},
          {...DEFAULT_WS, path: '/own', piggyback: true},
          {...DEFAULT_WS, path: '/opt', piggyback: true, allowNoSubprotocol: true},
        ],
      )
    })

    it('a listener URL without host takes the configured host', () => {
      assert.deepEqual(listeners({host: '::1', listeners: ['mqtt://:0']}), [{id: 'mqtt:0', scheme: 'mqtt', host: '::1', port: 0}])
    })

    it('a listener may carry its own TLS material and id', () => {
      assert.deepEqual(listeners({listeners: [{url: 'mqtts://127.0.0.1:0', id: 'secure', tls: TLS}]}), [
        {id: 'secure', scheme: 'mqtts', host: '127.0.0.1', port: 0, tls: TLS},
      ])
    })

    it('automatic ids of several port-0 listeners are unique', () => {
      const got = listeners({listeners: ['mqtt://127.0.0.1:0', 'mqtt://127.0.0.1:0', 'ws://127.0.0.1:0', 'mqtt://[::1]:0', 'ws://127.0.0.1:0/b']})
      assert.deepEqual(
        got.map((l) => l.id),
        ['mqtt:0', 'mqtt:0-2', 'ws:0', 'mqtt:0-3', 'ws:0-2'],
      )
    })

    it('automatic ids avoid explicit ones, also those of later listeners', () => {
      const got = listeners({
        listeners: ['mqtt://127.0.0.1:0', 'mqtt://127.0.0.1:0', {url: 'mqtt://127.0.0.1:0', id: 'mqtt:0-2'}, 'ws://127.0.0.1:0', {url: 'ws://127.0.0.1:0', id: 'ws:0'}],
      })
      assert.deepEqual(
        got.map((l) => l.id),
        ['mqtt:0', 'mqtt:0-3', 'mqtt:0-2', 'ws:0-2', 'ws:0'],
      )
    })

    it('two explicit equal ids are refused', () => {
      assertConfigError(
        () => resolveConfig({listeners: [{url: 'mqtt://127.0.0.1:1', id: 'x'}, {url: 'ws://127.0.0.1:2', id: 'x'}]}),
        'two listeners share the id "x"',
      )
    })

    it('two listeners on one host and port are refused, naming both', () => {
      assertConfigError(
        () => resolveConfig({listeners: ['mqtt://127.0.0.1:1883', 'ws://127.0.0.1:1883/mqtt']}),
        'mqtt:1883',
        'ws:1883',
        '127.0.0.1:1883',
      )
      assertConfigError(() => resolveConfig({listeners: ['mqtt://[::1]:1884', 'tcp://[::1]:1884']}), 'mqtt:1884', 'mqtt:1884-2', '::1:1884')
    })

    it('the same port on different hosts is allowed', () => {
      assert.deepEqual(
        listeners({listeners: ['mqtt://127.0.0.1:1883', 'mqtt://[::1]:1883']}).map((l) => [l.id, l.host]),
        [
          ['mqtt:1883', '127.0.0.1'],
          ['mqtt:1883-2', '::1'],
        ],
      )
    })
  })

  describe('resolveConfig errors name the bad key and value', () => {
    const ERRORS: Array<[string, unknown, string[]]> = [
      ['an unknown limit', {limits: {maxPaketSize: 1}}, ['unknown setting "limits.maxPaketSize"', 'maxPacketSize']],
      ['an unknown top-level key', {listener: []}, ['unknown setting "listener"', 'listeners']],
      ['an unknown ws key', {ws: {pth: '/x'}}, ['unknown setting "ws.pth"']],
      ['an unknown tls key', {tls: {...TLS, pfx: 'x'}}, ['unknown setting "tls.pfx"']],
      ['an unknown listener key', {listeners: [{url: 'mqtt://h:1', port: 2}]}, ['unknown setting "listeners[0].port"']],
      ['an unknown listener ws key', {listeners: [{url: 'ws://h:1', ws: {pth: '/x'}}]}, ['unknown setting "listeners[0].ws.pth"']],
      ['a bad scheme', {listeners: ['mqtt://h:1', 'http://h:2']}, ['"listeners[1]"', 'http://h:2', 'unknown scheme']],
      ['a path on mqtt://', {listeners: ['mqtt://h:1/x']}, ['"listeners[0]"', 'mqtt://h:1/x', 'has a path']],
      ['port 70000', {listeners: ['mqtt://h:70000']}, ['"listeners[0]"', 'port 70000']],
      ['credentials', {listeners: ['ws://u:p@h:1']}, ['"listeners[0]"', 'ws://u:p@h:1', 'credentials']],
      ['a TLS listener without TLS material', {listeners: ['mqtts://127.0.0.1:8883']}, ['mqtts://127.0.0.1:8883', 'needs a certificate and key']],
      ['a wss listener without TLS material', {listeners: ['mqtt://h:1', 'wss://h:2/mqtt']}, ['wss://h:2/mqtt', 'needs a certificate and key']],
      ['ws options on an mqtt listener', {listeners: [{url: 'mqtt://h:1', ws: {piggyback: true}}]}, ['"listeners[0].ws"', 'only to ws:// and wss://']],
      ['an empty listener list', {listeners: []}, ['"listeners"', 'non-empty list']],
      ['a listener that is a number', {listeners: [1883]}, ['"listeners[0]"', 'URL string']],
      ['a listener without url', {listeners: [{id: 'x'}]}, ['"listeners[0].url"', 'undefined']],
      ['an empty id', {listeners: [{url: 'mqtt://h:1', id: ''}]}, ['"listeners[0].id"', '""']],
      ['maxPacketSize 15', {limits: {maxPacketSize: 15}}, ['"limits.maxPacketSize" is 15', '16 to 268435460']],
      ['maxPacketSize over the MQTT maximum', {limits: {maxPacketSize: 268_435_461}}, ['"limits.maxPacketSize" is 268435461']],
      ['a fractional maxInflight', {limits: {maxInflight: 1.5}}, ['"limits.maxInflight" is 1.5']],
      ['receiveMaximum 0', {limits: {receiveMaximum: 0}}, ['"limits.receiveMaximum" is 0', '1 to 65535']],
      ['a string connectTimeoutMs', {limits: {connectTimeoutMs: '10'}}, ['"limits.connectTimeoutMs" is "10"']],
      ['limits not an object', {limits: 5}, ['"limits" must be an object']],
      ['maxQos 3', {limits: {maxQos: 3}}, ['"limits.maxQos" is 3', '0 to 2']],
      ['a negative maxQueuedBytes', {limits: {maxQueuedBytes: -1}}, ['"limits.maxQueuedBytes" is -1']],
      ['an unknown queue overflow policy', {limits: {queueOverflow: 'drop-random'}}, ['"limits.queueOverflow" is "drop-random"', 'drop-oldest, drop-newest']],
      ['a non-boolean retainAvailable', {limits: {retainAvailable: 'no'}}, ['"limits.retainAvailable" is "no"', 'true or false']],
      ['maxOutputBytes below 1024', {limits: {maxOutputBytes: 100}}, ['"limits.maxOutputBytes" is 100', '1024 to']],
      ['maxTopicLevels 0', {limits: {maxTopicLevels: 0}}, ['"limits.maxTopicLevels" is 0', '1 to 65535']],
      ['maxKeepalive over 65535', {limits: {maxKeepalive: 70000}}, ['"limits.maxKeepalive" is 70000', '0 to 65535']],
      ['maxSessionExpiry over 2^32-1', {limits: {maxSessionExpiry: 2 ** 32}}, ['"limits.maxSessionExpiry" is 4294967296']],
      ['maxConnectSize 15', {limits: {maxConnectSize: 15}}, ['"limits.maxConnectSize" is 15', '16 to 268435460']],
      ['a negative maxPendingPerAddress', {limits: {maxPendingPerAddress: -1}}, ['"limits.maxPendingPerAddress" is -1', '0 to']],
      ['a non-boolean allowReservedTopics', {limits: {allowReservedTopics: 1}}, ['"limits.allowReservedTopics" is 1', 'true or false']],
      ['a non-boolean ws.authFromUpgrade', {ws: {authFromUpgrade: 'yes'}}, ['"ws.authFromUpgrade" is "yes"', 'true or false']],
      [
        'authFromUpgrade without origins while the admin API is off',
        {admin: false, listeners: [{url: 'ws://h:1', ws: {authFromUpgrade: true}}]},
        ['listener ws:1 authenticates from the WebSocket upgrade request', 'set ws.origins (serve --ws-origins'],
      ],
      ['an unknown shared strategy', {sharedStrategy: 'least-busy'}, ['"sharedStrategy" is "least-busy"', 'round-robin, random, sticky']],
      ['an empty host', {host: ''}, ['"host" is ""']],
      ['a ws path without /', {ws: {path: 'mqtt'}}, ['"ws.path" is "mqtt"', 'starts with /']],
      ['a listener ws path without /', {listeners: [{url: 'ws://h:1', ws: {path: 'x'}}]}, ['"listeners[0].ws.path" is "x"']],
      ['empty subprotocols', {ws: {subprotocols: []}}, ['"ws.subprotocols" is []']],
      ['a subprotocol with a space', {ws: {subprotocols: ['mq tt']}}, ['"ws.subprotocols" is ["mq tt"]']],
      ['a non-boolean piggyback', {ws: {piggyback: 'yes'}}, ['"ws.piggyback" is "yes"', 'true or false']],
      ['a non-boolean deflate', {ws: {deflate: 1}}, ['"ws.deflate" is 1', 'true or false']],
      ['a cert that is not PEM', {tls: {cert: 'x', key: TLS.key}}, ['"tls.cert" is not a PEM certificate']],
      ['a key that is not PEM', {tls: {cert: TLS.cert, key: 'y'}}, ['"tls.key" is not a PEM private key']],
      ['a listener cert that is not PEM', {listeners: [{url: 'mqtts://h:1', tls: {cert: 'x', key: TLS.key}}]}, ['"listeners[0].tls.cert"']],
    ]
    for (const [name, input, parts] of ERRORS) {
      it(name, () => assertConfigError(() => resolveConfig(input as BrokerConfigInput), ...parts))
    }
  })
})
