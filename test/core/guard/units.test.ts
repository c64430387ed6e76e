/** The guard's pure parts: networks, bans, flapping windows, token buckets, PROXY headers, X-Forwarded-For, config errors. */
import assert from 'node:assert/strict'
import {AddressSet, hostOfRemote, normalizeIp, parseNetwork} from '../../../src/core/guard/address.js'
import {BanList} from '../../../src/core/guard/bans.js'
import {resolveBan, resolveGuardConfig} from '../../../src/core/guard/config.js'
import {FlappingDetector} from '../../../src/core/guard/flapping.js'
import {forwardedClient} from '../../../src/core/guard/forwarded.js'
import {PROXY_V2_SIGNATURE, parseProxyHeader} from '../../../src/core/guard/proxy-protocol.js'
import {proxyV2} from '../../helpers/guard.js'
import {prng, seedFromEnv} from '../../helpers/random.js'
import {admitMessage, newBucket, newClientRate, take} from '../../../src/core/guard/rate-limit.js'
import {resolveConfig} from '../../../src/core/config.js'

describe('guard: addresses and networks', () => {
  it('matches IPv4, IPv6 and IPv4-mapped IPv6 against networks', () => {
    const set = new AddressSet([parseNetwork('10.0.0.0/8', 'n'), parseNetwork('2001:db8::/32', 'n'), parseNetwork('192.0.2.7', 'n')])
    assert.equal(set.has('10.1.2.3'), true)
    assert.equal(set.has('::ffff:10.1.2.3'), true)
    assert.equal(set.has('11.0.0.1'), false)
    assert.equal(set.has('2001:db8:1::5'), true)
    assert.equal(set.has('2001:db9::1'), false)
    assert.equal(set.has('192.0.2.7'), true)
    assert.equal(set.has('192.0.2.8'), false)
    assert.equal(set.has('not an address'), false)
    // A mapped network is the IPv4 network it maps.
    assert.equal(new AddressSet([parseNetwork('::ffff:127.0.0.0/104', 'n')]).has('127.0.0.1'), true)
  })

  it('refuses what is not a network, saying what to write', () => {
    assert.throws(() => parseNetwork('10.0.0.0/33', 'guard.trustedProxies[0]'), /"10\.0\.0\.0\/33" has prefix length "\/33": an IPv4 prefix is 0 to 32/)
    assert.throws(() => parseNetwork('example.com', 'x'), /is not an IP address or network: write it as/)
    assert.throws(() => parseNetwork('', 'x'), /give an IP address or network/)
  })

  it('reads the host of a remote', () => {
    assert.equal(hostOfRemote('127.0.0.1:5000'), '127.0.0.1')
    assert.equal(hostOfRemote('[::1]:5000'), '::1')
    assert.equal(hostOfRemote('[::ffff:10.0.0.1]:5'), '10.0.0.1')
    assert.equal(normalizeIp('FE80::1%eth0'), 'fe80::1')
  })
})

describe('guard: bans', () => {
  const subject = (clientId: string, username?: string, address?: string) => ({clientId, username, address})

  it('matches exact ids and names, patterns and networks, and drops expired bans', () => {
    const bans = new BanList()
    const now = 1_000_000
    bans.add(resolveBan({clientId: 'bad'}, 'b'), 'config', now)
    bans.add(resolveBan({username: 'eve'}, 'b'), 'config', now)
    bans.add(resolveBan({clientId: 'bot-\\d+', regex: true}, 'b'), 'config', now)
    bans.add(resolveBan({address: '203.0.113.0/24'}, 'b'), 'config', now)
    bans.add(resolveBan({clientId: 'brief', duration: 10}, 'b', now), 'api', now)
    assert.equal(bans.match(subject('bad'), now)?.kind, 'clientId')
    assert.equal(bans.match(subject('ok', 'eve'), now)?.kind, 'username')
    assert.equal(bans.match(subject('bot-17'), now)?.regex, true)
    // The pattern covers the whole id, not a part of it.
    assert.equal(bans.match(subject('my-bot-17'), now), undefined)
    assert.equal(bans.match(subject('ok', undefined, '203.0.113.9'), now)?.kind, 'address')
    assert.equal(bans.match(subject('ok', 'bob', '198.51.100.1'), now), undefined)
    assert.equal(bans.match(subject('brief'), now + 9999)?.value, 'brief')
    assert.equal(bans.match(subject('brief'), now + 10_000), undefined)
    assert.equal(bans.list(now + 10_000).length, 4)
    assert.equal(bans.remove('clientId', 'bad'), true)
    assert.equal(bans.remove('clientId', 'bad'), false)
    assert.equal(bans.match(subject('bad'), now), undefined)
  })

  it('refuses bad bans with what to change', () => {
    assert.throws(() => resolveBan({clientId: 'a', username: 'b'}, 'bans[0]'), /exactly one of clientId, username or address \(it names clientId and username\)/)
    assert.throws(() => resolveBan({address: '10.0.0.0/8', regex: true}, 'bans[0]'), /regex applies to clientId and username/)
    assert.throws(() => resolveBan({clientId: '(', regex: true}, 'bans[0]'), /"\(" is not a valid regular expression/)
    assert.throws(() => resolveBan({clientId: 'a', until: 'tomorrow'}, 'bans[0]'), /until is "tomorrow": give an ISO 8601 date/)
    assert.throws(() => resolveBan({clientId: 'a', who: 1}, 'bans[0]'), /unknown setting "bans\[0\]\.who"/)
    assert.throws(() => resolveConfig({bans: [{}]} as never), /setting "bans\[0\]" must name exactly one/)
    assert.throws(() => resolveConfig({guard: {tlsMinVersion: 'TLSv1.1'}} as never), /use TLSv1\.2 or TLSv1\.3/)
    assert.throws(() => resolveConfig({guard: {trustedProxies: ['10.0.0.0/40']}}), /guard\.trustedProxies\[0\]/)
    assert.throws(() => resolveConfig({limits: {messageRate: -1}}), /limits\.messageRate/)
    assert.equal(resolveGuardConfig(undefined, {tlsMinVersion: '1.3'}).tlsMinVersion, 'TLSv1.3')
  })
})

describe('guard: flapping windows', () => {
  it('flags the connect past the limit within the window, per client id and per address', () => {
    const f = new FlappingDetector({maxConnects: 3, maxConnectsPerAddress: 5, windowMs: 1000, banMs: 5000})
    const t = 10_000
    for (let i = 0; i < 3; i++) assert.equal(f.connect('a', '10.0.0.1', t + i), undefined)
    assert.deepEqual(f.connect('a', '10.0.0.1', t + 3), {kind: 'clientId', value: 'a', count: 4})
    // A new window: counting starts again.
    assert.equal(f.connect('b', '10.0.0.2', t), undefined)
    assert.equal(f.connect('b', '10.0.0.2', t + 2000), undefined)
    // Different ids from one address: the address limit.
    const g = new FlappingDetector({maxConnects: 100, maxConnectsPerAddress: 2, windowMs: 1000, banMs: 5000})
    assert.equal(g.connect('x1', '10.0.0.9', t), undefined)
    assert.equal(g.connect('x2', '10.0.0.9', t), undefined)
    assert.deepEqual(g.connect('x3', '10.0.0.9', t), {kind: 'address', value: '10.0.0.9', count: 3})
  })
})

describe('guard: token buckets', () => {
  it('gives `rate` tokens a second, integer arithmetic, no more than a second in store', () => {
    const b = newBucket(2, 0)
    assert.equal(take(b, 1, 0), true)
    assert.equal(take(b, 1, 0), true)
    assert.equal(take(b, 1, 0), false)
    assert.equal(take(b, 1, 499), false)
    assert.equal(take(b, 1, 500), true)
    assert.equal(take(b, 1, 10_000), true)
    assert.equal(take(b, 1, 10_000), true)
    assert.equal(take(b, 1, 10_000), false)
    assert.ok(Number.isInteger(b.milli))
  })

  it('admits a message only when both the message and the byte bucket have room', () => {
    const r = newClientRate(10, 100, 0)!
    assert.equal(admitMessage(r, 60, 0), true)
    assert.equal(admitMessage(r, 60, 0), false)
    assert.equal(r.messages!.milli, 9000) // the refused one took no message token
    assert.equal(newClientRate(0, 0), undefined)
  })
})

describe('guard: PROXY protocol headers', () => {
  it('knows the v2 signature the spec gives', () => assert.equal(PROXY_V2_SIGNATURE.toString('latin1'), '\r\n\r\n\0\r\nQUIT\n'))

  it('parses v1 TCP4, TCP6 and UNKNOWN, also when the header arrives in pieces', () => {
    const v1 = Buffer.from('PROXY TCP4 198.51.100.22 203.0.113.7 35646 1883\r\n')
    for (let i = 1; i < v1.length; i++) assert.deepEqual(parseProxyHeader(v1.subarray(0, i)), {state: 'more'})
    const r = parseProxyHeader(Buffer.concat([v1, Buffer.from([0x10, 0x00])]))
    assert.deepEqual(r, {state: 'done', length: v1.length, header: {version: 1, proxied: true, source: {address: '198.51.100.22', port: 35646}, destination: {address: '203.0.113.7', port: 1883}}})
    const r6 = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 4000 1883\r\n'))
    assert.equal(r6.state === 'done' && r6.header.source?.address, '2001:db8::1')
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), {state: 'done', length: 15, header: {version: 1, proxied: false}})
  })

  it('refuses malformed v1 headers', () => {
    for (const bad of ['PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n', 'PROXY TCP4 1.2.3.400 5.6.7.8 1 1\r\n', 'PROXY TCP5 a b 1 1\r\n', 'PROXY TCP4 1.2.3.4\r\n', 'POST / HTTP/1.1\r\n', `PROXY ${'x'.repeat(120)}`]) {
      assert.equal(parseProxyHeader(Buffer.from(bad)).state, 'error', bad)
    }
  })

  it('parses v2 PROXY (IPv4, IPv6, with TLVs) and LOCAL, byte by byte', () => {
    const v4 = proxyV2(1, 0x11, Buffer.from([198, 51, 100, 22, 203, 0, 113, 7, 0x8b, 0x3e, 0x07, 0x5b]))
    for (let i = 1; i < v4.length; i++) assert.deepEqual(parseProxyHeader(v4.subarray(0, i)), {state: 'more'}, `at ${i}`)
    assert.deepEqual(parseProxyHeader(v4), {state: 'done', length: 28, header: {version: 2, proxied: true, source: {address: '198.51.100.22', port: 0x8b3e}, destination: {address: '203.0.113.7', port: 1883}}})
    const src6 = Buffer.from('20010db8000000000000000000000001', 'hex')
    const dst6 = Buffer.from('20010db8000000000000000000000002', 'hex')
    const tlv = Buffer.from([0x04, 0x00, 0x01, 0x00]) // PP2_TYPE_NOOP, ignored
    const v6 = proxyV2(1, 0x21, Buffer.concat([src6, dst6, Buffer.from([0x13, 0x88, 0x07, 0x5b]), tlv]))
    const r6 = parseProxyHeader(v6)
    assert.equal(r6.state, 'done')
    assert.equal(r6.state === 'done' && r6.header.source?.address, '2001:db8::1')
    assert.equal(r6.state === 'done' && r6.header.source?.port, 5000)
    assert.equal(r6.state === 'done' && r6.length, v6.length)
    assert.deepEqual(parseProxyHeader(proxyV2(0, 0x00, Buffer.alloc(0))), {state: 'done', length: 16, header: {version: 2, proxied: false}})
  })

  it('refuses malformed v2 headers', () => {
    const bad = [
      Buffer.concat([PROXY_V2_SIGNATURE.subarray(0, 11), Buffer.from([0x00, 0x21, 0x11, 0, 0])]),
      proxyV2(1, 0x11, Buffer.alloc(4)), // IPv4 needs 12 bytes
      Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x31, 0x11, 0, 12]), Buffer.alloc(12)]), // version 3
      Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x22, 0x11, 0, 12]), Buffer.alloc(12)]), // command 2
      Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]), // too long
    ]
    for (const b of bad) assert.equal(parseProxyHeader(b).state, 'error', b.toString('hex'))
    assert.deepEqual(parseProxyHeader(Buffer.from([0x10, 0x0c])), {state: 'none'})
  })
})

describe('guard: PROXY header fuzz', () => {
  it('never throws on random bytes after either signature, fed whole and cut anywhere', () => {
    const seed = seedFromEnv('GUARD_FUZZ_SEED')
    const next = prng(seed)
    const rnd = (n: number): number => Math.floor(next() * n)
    const starts = [Buffer.from('PROXY '), Buffer.from('PROXY TCP4 '), Buffer.from('PROXY TCP6 '), Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21])]), PROXY_V2_SIGNATURE]
    for (let i = 0; i < 3000; i++) {
      const tail = Buffer.from(Array.from({length: rnd(80)}, () => (rnd(4) === 0 ? 0x20 + rnd(95) : rnd(256))))
      const buf = Buffer.concat([starts[rnd(starts.length)], tail])
      const input = buf.subarray(0, rnd(buf.length + 1))
      let state: string
      try {
        state = parseProxyHeader(input).state
      } catch (error) {
        assert.fail(`threw on ${input.toString('hex')} (GUARD_FUZZ_SEED=${seed}): ${(error as Error).message}`)
      }
      assert.ok(['more', 'none', 'done', 'error'].includes(state), `GUARD_FUZZ_SEED=${seed}`)
    }
  })
})

describe('guard: X-Forwarded-For', () => {
  const trusted = new AddressSet([parseNetwork('10.0.0.0/8', 'n'), parseNetwork('::1', 'n')])

  it('takes the right-most hop that is not a trusted proxy, only from a trusted peer', () => {
    assert.equal(forwardedClient('10.0.0.5', {'x-forwarded-for': '1.1.1.1, 198.51.100.9, 10.0.0.7'}, trusted), '198.51.100.9')
    assert.equal(forwardedClient('::ffff:10.0.0.5', {'x-forwarded-for': '198.51.100.9'}, trusted), '198.51.100.9')
    assert.equal(forwardedClient('10.0.0.5', {'x-forwarded-for': '[2001:db8::7]:443'}, trusted), '2001:db8::7')
    assert.equal(forwardedClient('10.0.0.5', {'x-forwarded-for': '198.51.100.9:5000'}, trusted), '198.51.100.9')
    // Every hop trusted: the left-most.
    assert.equal(forwardedClient('10.0.0.5', {'x-forwarded-for': '10.0.0.1, 10.0.0.2'}, trusted), '10.0.0.1')
    // Garbage in a hop: the hop to its right is as far as can be believed.
    assert.equal(forwardedClient('10.0.0.5', {'x-forwarded-for': 'evil, 10.0.0.2'}, trusted), '10.0.0.2')
    assert.equal(forwardedClient('10.0.0.5', {'x-real-ip': '198.51.100.3'}, trusted), '198.51.100.3')
    // An untrusted peer's headers are not read.
    assert.equal(forwardedClient('198.51.100.1', {'x-forwarded-for': '1.2.3.4'}, trusted), undefined)
    assert.equal(forwardedClient('10.0.0.5', {}, trusted), undefined)
  })
})
