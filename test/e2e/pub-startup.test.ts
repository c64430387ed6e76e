/**
 * End-to-end: bin/run.js's quick start of `pub` and `sub` (src/cli/fast-start.ts) gives
 * exactly what oclif's normal start gives (MQTTWS_FAST_START=0): the same stdout, stderr and
 * exit code, over real sockets. A preloaded probe tells which start ran: the quick start
 * never loads @oclif/core's Config. Needs `npm run build` (which makes the bundle).
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {startBroker} from '../helpers/broker.js'
import type {TestBroker} from '../helpers/broker.js'
import {closedPort} from '../helpers/ports.js'
import {runBin} from '../helpers/spawn.js'
import type {RunResult} from '../helpers/spawn.js'
import {connackBytes, startFakeBroker} from '../core/client/fake-broker.js'
import type {FakeBroker} from '../core/client/fake-broker.js'

type Start = 'quick' | 'oclif'

let dir: string
let probe: string
let runs = 0

/** Runs `mqttws ARGS` and says which start ran it. */
async function run(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult & {start: Start}> {
  const file = join(dir, `run-${++runs}`)
  const result = await runBin(args, {
    timeoutMs: 30000,
    env: {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${probe}`.trim(),
      STARTUP_PROBE_FILE: file,
      // What else turns the quick start off.
      MQTTWS_FAST_START: undefined,
      DEBUG: undefined,
      MQTTWS_DEBUG: undefined,
      ...env,
    },
  })
  return {...result, start: readFileSync(file, 'utf8') === 'true' ? 'oclif' : 'quick'}
}

/**
 * Runs ARGS both ways (one after the other: a fixed client id cannot connect twice at once)
 * and checks that they agree; returns what they gave.
 */
async function both(args: string[], expected: Start): Promise<RunResult> {
  const {start: quickStart, ...quick} = await run(args, {})
  const {start: normalStart, ...normal} = await run(args, {MQTTWS_FAST_START: '0'})
  assert.equal(normalStart, 'oclif', 'MQTTWS_FAST_START=0 runs oclif')
  assert.equal(quickStart, expected, expected === 'quick' ? 'the quick start ran (is dist/fast-path.cjs up to date? npm run build)' : 'oclif ran')
  assert.deepEqual(quick, normal, args.join(' '))
  return quick
}

describe('pub and sub quick start (bin/run.js)', function () {
  this.timeout(120000)
  let broker: TestBroker
  let refusing: FakeBroker
  let at: string[]

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqttws-startup-'))
    probe = join(dir, 'probe.cjs')
    writeFileSync(
      probe,
      `process.on('exit', () => require('node:fs').writeFileSync(process.env.STARTUP_PROBE_FILE,
         String(Object.keys(require.cache).some((k) => k.endsWith('/@oclif/core/lib/config/config.js')))))\n`,
    )
    broker = await startBroker({listeners: ['mqtt://127.0.0.1:0', 'ws://127.0.0.1:0/mqtt']})
    at = ['-h', '127.0.0.1', '-p', String(broker.ports.mqtt)]
    refusing = await startFakeBroker({onConnect: (c) => c.send(connackBytes(5, 0x87))})
  })

  after(async () => {
    await broker?.close()
    await refusing?.close()
    rmSync(dir, {recursive: true, force: true})
  })

  it('publishes: no output and exit 0, or the same --json report', async () => {
    const plain = await both(['pub', ...at, '-t', 'startup/a', '-m', 'hi'], 'quick')
    assert.deepEqual(plain, {code: 0, stdout: '', stderr: ''})
    const json = await both(['pub', ...at, '-t', 'startup/a', '-m', 'hi', '-q', '1', '-i', 'startup-json', '--json'], 'quick')
    assert.equal((JSON.parse(json.stdout) as {count: number}).count, 1)
    await both(['pub', '-L', broker.urls.ws, '-t', 'startup/ws', '-m', 'hi', '-i', 'startup-ws', '--json'], 'quick')
  })

  it('a refused connection: the same message, exit 1 (text and --json)', async () => {
    const port = String(await closedPort())
    const text = await both(['pub', '-h', '127.0.0.1', '-p', port, '-t', 'a', '-m', 'x'], 'quick')
    assert.equal(text.code, 1)
    assert.match(text.stderr, /^Error: mqtt:\/\/127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\)/)
    const json = await both(['pub', '-h', '127.0.0.1', '-p', port, '-t', 'a', '-m', 'x', '--json'], 'quick')
    assert.equal(json.code, 1)
    await both(['sub', '-h', '127.0.0.1', '-p', port, '-t', 'a'], 'quick')
  })

  it('a broker that refuses: the same message, exit 3', async () => {
    const pub = await both(['pub', '-L', refusing.url, '-t', 'a', '-m', 'x'], 'quick')
    assert.equal(pub.code, 3)
    assert.equal(pub.stderr, `Error: ${refusing.url}: the broker refused the connection: 0x87 not authorized\n`)
    assert.equal((await both(['sub', '-L', refusing.url, '-t', 'a'], 'quick')).code, 3)
  })

  it('a usage error found by the command: the same message, exit 2', async () => {
    const wildcard = await both(['pub', ...at, '-t', 'a/#', '-m', 'x'], 'quick')
    assert.equal(wildcard.code, 2)
    assert.match(wildcard.stderr, /^Error: -t a\/#: /)
    assert.equal((await both(['pub', ...at, '-t', 'a/#', '-m', 'x', '--json'], 'quick')).code, 2)
    assert.equal((await both(['pub', ...at, '-m', 'x'], 'quick')).code, 2)
  })

  it('a bad flag is left to oclif: the same error and the flag it resembles, exit 2', async () => {
    const bogus = await both(['pub', ...at, '-t', 'a', '-m', 'x', '--qoss', '1'], 'oclif')
    assert.equal(bogus.code, 2)
    assert.equal(bogus.stderr, 'Error: unknown flag --qoss: did you mean --qos?\nSee `mqttws pub --help`.\n')
    assert.equal((await both(['pub', ...at, '-t', 'a', '-m', 'x', '-q', '7'], 'oclif')).code, 2)
    assert.equal((await both(['pub', ...at, '-t', 'a', '-m', 'x', '--repeat-delay', 'soon'], 'oclif')).code, 2)
    assert.equal((await both(['sub', ...at, '-t', 'a', '--format', 'yaml'], 'oclif')).code, 2)
  })

  it('--help is left to oclif: the same help, exit 0', async () => {
    const help = await both(['pub', '--help'], 'oclif')
    assert.equal(help.code, 0)
    assert.match(help.stdout, /^Publish MQTT messages/)
    await both(['sub', ...at, '-t', 'a', '--help'], 'oclif')
  })

  it('sub: the same messages printed', async () => {
    await both(['pub', ...at, '-t', 'startup/retained', '-m', 'kept', '-r', '-q', '1'], 'quick')
    const sub = await both(['sub', ...at, '-t', 'startup/#', '-C', '1', '-v'], 'quick')
    assert.deepEqual(sub, {code: 0, stdout: 'startup/retained kept\n', stderr: ''})
    await both(['sub', ...at, '-t', 'startup/#', '--retained-only', '-F', '%t %p %q %r'], 'quick')
  })
})
