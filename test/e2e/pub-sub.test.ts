/**
 * End-to-end: the built `mqttws pub` and `mqttws sub` (bin/run.js) as a user runs them,
 * against `mqttws serve` over mqtt, mqtts, ws and wss, against a scripted broker for
 * refusals and the exact SUBSCRIBE options, and against Debian's Mosquitto broker.
 *
 * sub is started with --log-level debug: its "subscribed" line on stderr says when to
 * publish. Independent spawns run concurrently (each costs ~0.6 s of CPU).
 */
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import mqttPacket from 'mqtt-packet'
import type {IConnectPacket, IPublishPacket, ISubscribePacket} from 'mqtt-packet'
import {closedPort, closedPorts} from '../helpers/ports.js'
import {BIN, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'
import {connackBytes, startFakeBroker} from '../core/client/fake-broker.js'
import type {FakeBroker} from '../core/client/fake-broker.js'

/** Deadline for one process or wait: generous, as scenarios share the CPU. */
const WAIT_MS = 60000
const children = new Set<ChildProcess>()
let counter = 0
const uid = (p: string): string => `${p}/${process.pid}-${++counter}`

interface Ran {
  code: number | null
  stdout: Buffer
  stderr: string
}

interface Running {
  child: ChildProcess
  stdout(): Buffer
  stderr(): string
  /** Resolves once stdout holds `text` (or rejects after a deadline). */
  waitStdout(text: string): Promise<void>
  /** Resolves once stderr matches `re` (or rejects after a deadline). */
  waitStderr(re: RegExp): Promise<void>
  done: Promise<Ran>
}

/**
 * Starting the CLI is CPU-bound (~0.6 s): at most SLOTS start at once, and a process holds
 * its slot until it is ready (`readyWhen` on stderr) or has exited, so that scenarios can
 * run side by side without starving each other on a 2-core machine.
 */
const SLOTS = 3
let freeSlots = SLOTS
const slotQueue: Array<() => void> = []
function acquireSlot(): Promise<void> {
  if (freeSlots > 0) {
    freeSlots--
    return Promise.resolve()
  }
  return new Promise((resolve) => slotQueue.push(resolve))
}
function releaseSlot(): void {
  const next = slotQueue.shift()
  if (next) next()
  else freeSlots++
}

/** Spawns `node bin/run.js ARGS`; stdin is a pipe (not a TTY), closed at once unless `keepStdin`. */
async function start(args: string[], o: {stdin?: Buffer | string; keepStdin?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number; readyWhen?: RegExp} = {}): Promise<Running> {
  await acquireSlot()
  let holding = true
  const release = (): void => {
    if (holding) releaseSlot()
    holding = false
  }
  const child = spawn(process.execPath, [BIN, ...args], {env: {...process.env, TZ: 'UTC', ...o.env}, stdio: ['pipe', 'pipe', 'pipe']})
  children.add(child)
  const out: Buffer[] = []
  let err = ''
  const waiters = new Set<() => void>()
  child.stdout!.on('data', (d: Buffer) => {
    out.push(d)
    for (const w of [...waiters]) w()
  })
  child.stderr!.on('data', (d: Buffer) => {
    err += d
    if (o.readyWhen?.test(err)) release()
    for (const w of [...waiters]) w()
  })
  child.stdin!.on('error', () => {})
  if (o.stdin !== undefined) child.stdin!.write(o.stdin)
  if (!o.keepStdin) child.stdin!.end()
  const stdout = (): Buffer => Buffer.concat(out)
  const done = new Promise<Ran>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`mqttws ${args.join(' ')} did not finish within ${o.timeoutMs ?? WAIT_MS} ms\nstdout: ${stdout()}\nstderr: ${err}`))
    }, o.timeoutMs ?? WAIT_MS)
    child.on('close', (code) => {
      clearTimeout(timer)
      children.delete(child)
      release()
      resolve({code, stdout: stdout(), stderr: err})
    })
  })
  const waitFor = (label: string, test: () => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      if (test()) return resolve()
      const check = (): void => {
        if (!test()) return
        waiters.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`mqttws ${args.join(' ')}: no ${label} within ${WAIT_MS} ms\nstdout: ${stdout()}\nstderr: ${err}`))
      }, WAIT_MS)
      waiters.add(check)
      void done.then(() => {
        if (waiters.delete(check)) {
          clearTimeout(timer)
          if (test()) resolve()
          else reject(new Error(`mqttws ${args.join(' ')} exited before ${label}\nstdout: ${stdout()}\nstderr: ${err}`))
        }
      })
    })
  const running: Running = {
    child,
    stdout,
    stderr: () => err,
    waitStdout: (text) => waitFor(JSON.stringify(text), () => stdout().includes(text)),
    waitStderr: (re) => waitFor(String(re), () => re.test(err)),
    done,
  }
  // A scenario that failed early may never await it: its rejection is still reported to those that do.
  done.catch(() => {})
  return running
}

/** Runs `mqttws ARGS` to completion. */
async function run(args: string[], o: {stdin?: Buffer | string; env?: NodeJS.ProcessEnv} = {}): Promise<Ran> {
  return (await start(args, o)).done
}

/** Starts `mqttws sub ARGS --log-level debug` and resolves once it has subscribed. */
async function startSub(args: string[]): Promise<Running> {
  const r = await start(['sub', ...args, '--log-level', 'debug'], {readyWhen: /DEBUG subscribed/})
  await r.waitStderr(/DEBUG subscribed/)
  return r
}

/** Asserts a successful run and returns it. */
async function ok(p: Promise<Ran> | Ran): Promise<Ran> {
  const r = await p
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  children.clear()
}

const tmp = mkdtempSync(join(tmpdir(), 'mqttws-pubsub-'))
function file(name: string, content: Buffer | string): string {
  const path = join(tmp, name)
  writeFileSync(path, content)
  return path
}

/** stderr without sub's debug lines. */
const errors = (r: Ran): string =>
  r.stderr
    .split('\n')
    .filter((l) => l !== '' && !/ DEBUG /.test(l))
    .join('\n')

/**
 * Scenarios start side by side in before() (the slots above keep the CPU from being
 * oversubscribed) and each it() awaits its own, so a failure is still reported per test.
 */
function scenarios(): {add(title: string, fn: () => Promise<void>): void; startAll(): void} {
  const defs: Array<[string, () => Promise<void>]> = []
  const runs = new Map<string, Promise<void>>()
  return {
    add(title, fn) {
      defs.push([title, fn])
      it(title, () => runs.get(title))
    },
    startAll() {
      for (const [title, fn] of defs) {
        const p = fn()
        p.catch(() => {}) // reported by its it()
        runs.set(title, p)
      }
    },
  }
}

/** A scripted broker that accepts CONNECT and answers SUBSCRIBE with `granted` and PUBLISH with PUBACK `pubackCode`. */
function scripted(o: {connack?: Buffer; granted?: number[]; pubackCode?: number}): Promise<FakeBroker> {
  return startFakeBroker({
    onConnect: (c) => {
      c.send(o.connack ?? connackBytes(5))
      void c.waitFor('SUBSCRIBE', (p) => p.cmd === 'subscribe', 0, 60000).then(
        (p) => c.send(mqttPacket.generate({cmd: 'suback', messageId: (p as ISubscribePacket).messageId, granted: o.granted ?? [0]}, {protocolVersion: 5})),
        () => {},
      )
      void c.waitFor('PUBLISH', (p) => p.cmd === 'publish', 0, 60000).then(
        (p) => c.send(mqttPacket.generate({cmd: 'puback', messageId: (p as IPublishPacket).messageId, reasonCode: o.pubackCode ?? 0}, {protocolVersion: 5})),
        () => {},
      )
    },
  })
}

// ---- an independent broker ---------------------------------------------------------------

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p)) ?? (spawnSync('sh', ['-c', 'command -v mosquitto']).stdout?.toString().trim() || undefined)
const HAS_MOSQUITTO_CLIENTS = spawnSync('mosquitto_sub', ['--help']).error === undefined && spawnSync('mosquitto_pub', ['--help']).error === undefined

interface Mosquitto {
  child: ChildProcess
  tcp: number
  ws?: number
  log: () => string
}

/** Starts mosquitto on loopback ports with a generated config; resolves once its ports accept connections. */
async function startMosquitto(withWs: boolean): Promise<Mosquitto> {
  const [tcp, ws] = await closedPorts(withWs ? 2 : 1)
  // log_type subscribe: each SUBSCRIBE is logged (on unbuffered stderr), so a test can wait for mosquitto_sub.
  const lines = ['log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type subscribe', `listener ${tcp} 127.0.0.1`, 'allow_anonymous true']
  if (ws) lines.push(`listener ${ws} 127.0.0.1`, 'protocol websockets', 'allow_anonymous true')
  const conf = file(`mosquitto-${tcp}.conf`, `${lines.join('\n')}\n`)
  const child = spawn(MOSQUITTO!, ['-c', conf], {stdio: ['ignore', 'pipe', 'pipe']})
  children.add(child)
  let log = ''
  child.stdout!.on('data', (d) => (log += d))
  child.stderr!.on('data', (d) => (log += d))
  const accepts = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1')
      sock.once('connect', () => {
        sock.destroy()
        resolve(true)
      })
      sock.once('error', () => resolve(false))
    })
  // Bounded: at most 100 attempts, 50 ms apart.
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    if ((await accepts(tcp)) && (ws === undefined || (await accepts(ws)))) return {child, tcp, ws, log: () => log}
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`mosquitto did not start:\n${log}`)
}

/** Waits (bounded) until mosquitto's log shows `n` subscriptions to `topic`: mosquitto_sub has no readiness signal. */
async function waitForMosquittoSubscriptions(log: () => string, topic: string, n: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (log().split('\n').filter((l) => l.endsWith(` ${topic}`)).length >= n) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`mosquitto did not log ${n} subscriptions to ${topic}:\n${log()}`)
}

describe('e2e: mqttws pub and sub', function () {
  this.timeout(90000)
  let serve: ServeProcess
  const url: Record<string, string> = {}
  let cafile: string
  const fakes: FakeBroker[] = []
  const s = scenarios()
  /** Mosquitto and its scenarios start with the others, so both sets share the CPU time. */
  const m = scenarios()
  let mosq: Mosquitto | undefined
  let noWs = ''
  const tcpUrl = (): string => `mqtt://127.0.0.1:${mosq!.tcp}`
  const wsUrl = (): string => `ws://127.0.0.1:${mosq!.ws}/mqtt`

  /** The flags to reach the broker over a scheme (TLS: the dev cert as CA for mqtts, --insecure for wss). */
  const via = (scheme: string): string[] => ['-L', url[scheme], ...(scheme === 'mqtts' ? ['--cafile', cafile] : scheme === 'wss' ? ['--insecure'] : [])]

  before(async function () {
    serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'mqtts://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--listen', 'wss://127.0.0.1:0/mqtt', '--dev-cert'])
    for (const l of serve.listeners) url[l.scheme] = l.url
    assert.ok(serve.devCertFile, 'serve --dev-cert announces its certificate file')
    cafile = serve.devCertFile!
    if (MOSQUITTO) {
      try {
        mosq = await startMosquitto(true)
      } catch (error) {
        // A mosquitto built without websockets refuses the config: run the TCP tests only.
        noWs = `this mosquitto has no websockets listener: ${String((error as Error).message).replace(/\s+/g, ' ').slice(0, 200)}`
        mosq = await startMosquitto(false)
      }
    }
    s.startAll()
    if (mosq) m.startAll()
  })
  after(async () => {
    mosq?.child.kill('SIGKILL')
    killAll()
    rmSync(tmp, {recursive: true, force: true})
    await Promise.all(fakes.map((f) => f.close()))
    await serve?.stop('SIGKILL')
  })

  s.add('over mqtt, mqtts, ws and wss, with MQTT 3.1, 3.1.1 and 5: sub -v prints what pub sent', async () => {
    const schemes = ['mqtt', 'mqtts', 'ws', 'wss']
    const versions = ['3.1', '3.1.1', '5', '5']
    await Promise.all(
      schemes.map(async (scheme, i) => {
        const topic = uid(`transport/${scheme}`)
        const pubScheme = schemes[(i + 1) % 4]
        const sub = await startSub([...via(scheme), '-V', versions[i], '-t', topic, '-q', '1', '-C', '1', '-v'])
        await ok(run(['pub', ...via(pubScheme), '-V', versions[(i + 1) % 4], '-t', topic, '-m', `from ${pubScheme} to ${scheme}`, '-q', '1']))
        const r = await ok(sub.done)
        assert.equal(r.stdout.toString(), `${topic} from ${pubScheme} to ${scheme}\n`)
      }),
    )
  })

  s.add('output formats byte for byte: default, -v, -N, -F, --format ndjson, --binary hex|base64|raw, empty payloads', async () => {
    const topic = uid('fmt')
    const common = ['-L', url.mqtt, '-t', topic, '-q', '1', '-C', '3']
    const variants: Record<string, string[]> = {
      plain: [],
      verbose: ['-v'],
      noeolBase64: ['-N', '--binary', 'base64'],
      template: ['-F', '%t|%p|%q|%r|%l|%x|@@\\t|%5l|%-4q|%3p|'],
      ndjson: ['--format', 'ndjson'],
      raw: ['--binary', 'raw'],
    }
    const subs = Object.fromEntries(await Promise.all(Object.entries(variants).map(async ([k, args]) => [k, await startSub([...common, ...args])] as const)))
    const bin = file('bin.dat', Buffer.from([0x00, 0x01, 0xfe, 0xff]))
    // One after the other (QoS 1, each waits for PUBACK), so the order is fixed.
    await ok(run(['pub', '-L', url.ws, '-t', topic, '-m', 'hello', '-q', '1']))
    await ok(run(['pub', '-L', url.ws, '-t', topic, '-f', bin, '-q', '1']))
    await ok(run(['pub', '-L', url.ws, '-t', topic, '-n', '-q', '1']))
    const out: Record<string, Buffer> = {}
    for (const [k, sub] of Object.entries(subs)) out[k] = (await ok(sub.done)).stdout
    assert.equal(out.plain.toString(), 'hello\n0001feff\n')
    assert.equal(out.verbose.toString(), `${topic} hello\n${topic} 0001feff\n${topic} (null)\n`)
    assert.equal(out.noeolBase64.toString(), 'helloAAH+/w==')
    assert.equal(out.template.toString(), [`${topic}|hello|1|0|5|68656c6c6f|@\t|    5|1|hel|`, `${topic}|0001feff|1|0|4|0001feff|@\t|    4|1|000|`, `${topic}||1|0|0||@\t|    0|1|   |`, ''].join('\n'))
    assert.deepEqual(out.raw, Buffer.concat([Buffer.from('hello\n'), Buffer.from([0x00, 0x01, 0xfe, 0xff]), Buffer.from('\n')]))
    const lines = out.ndjson.toString().split('\n')
    assert.equal(lines.pop(), '', 'every object ends with a newline')
    const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    for (const o of objects) {
      assert.match(String(o.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.equal(typeof o.messageId, 'number')
      delete o.time
      delete o.messageId
    }
    assert.deepEqual(objects, [
      {topic, payload: 'hello', encoding: 'utf8', qos: 1, retain: false},
      {topic, payload: 'AAH+/w==', encoding: 'base64', qos: 1, retain: false},
      {topic, payload: '', encoding: 'utf8', qos: 1, retain: false},
    ])
  })

  s.add('stdin: -l publishes each line as it arrives (before stdin closes); -s, -f, -n; --repeat with --repeat-delay', async () => {
    const topic = uid('stdin')
    const sub = await startSub(['-L', url.mqtt, '-t', `${topic}/#`, '-q', '1', '-C', '9', '-v'])
    const lines = await start(['pub', '-L', url.ws, '-t', `${topic}/l`, '-l', '-q', '1', '--log-level', 'debug'], {keepStdin: true, readyWhen: /DEBUG connected/})
    lines.child.stdin!.write('line one\n')
    await sub.waitStdout(`${topic}/l line one\n`)
    lines.child.stdin!.write('line two\r\nline')
    await sub.waitStdout(`${topic}/l line two\n`)
    assert.equal(lines.child.exitCode, null, 'pub -l is still reading stdin')
    lines.child.stdin!.end(' three')
    await ok(lines.done)
    await sub.waitStdout(`${topic}/l line three\n`)
    await ok(run(['pub', '-L', url.mqtt, '-t', `${topic}/s`, '-s', '-q', '1'], {stdin: Buffer.from('all\nof it\n')}))
    await ok(run(['pub', '-L', url.mqtt, '-t', `${topic}/f`, '-f', file('msg.txt', 'from a file'), '-q', '1']))
    await ok(run(['pub', '-L', url.mqtt, '-t', `${topic}/n`, '-n', '-q', '1']))
    await ok(run(['pub', '-L', url.mqtt, '-t', `${topic}/r`, '-m', 'again', '--repeat', '3', '--repeat-delay', '0.05', '-q', '2']))
    const r = await ok(sub.done)
    assert.equal(
      r.stdout.toString(),
      [`${topic}/l line one`, `${topic}/l line two`, `${topic}/l line three`, `${topic}/s all\nof it\n`, `${topic}/f from a file`, `${topic}/n (null)`, `${topic}/r again`, `${topic}/r again`, `${topic}/r again`, ''].join('\n'),
    )
  })

  s.add('-W alone ends with 0; -W expiring before -C ends with 1 and says how many arrived', async () => {
    // A retained message arrives on subscribe, so the clock of -W does not race the publisher.
    const topic = uid('wait')
    await ok(run(['pub', '-L', url.mqtt, '-t', topic, '-m', 'one', '-r', '-q', '1']))
    const [q, w] = await Promise.all([run(['sub', '-L', url.mqtt, '-t', uid('nothing'), '-W', '1']), run(['sub', '-L', url.mqtt, '-t', topic, '-C', '2', '-W', '1'])])
    assert.equal(q.code, 0)
    assert.equal(q.stdout.toString(), '')
    assert.equal(q.stderr, '')
    assert.equal(w.code, 1)
    assert.equal(w.stdout.toString(), 'one\n')
    assert.equal(w.stderr, 'Error: received 1 of 2 messages within 1 s\n')
  })

  s.add('retained messages: --retained-only lists them, -R skips them, --remove-retained clears them (not the -T ones)', async () => {
    const base = uid('ret')
    await Promise.all(['a', 'b'].map((k) => ok(run(['pub', '-L', url.mqtt, '-t', `${base}/${k}`, '-m', k.toUpperCase(), '-r', '-q', '1']))))
    const [listed, skipping] = await Promise.all([
      ok(run(['sub', '-L', url.mqtt, '-t', `${base}/#`, '--retained-only', '-v'])),
      startSub(['-L', url.mqtt, '-t', `${base}/#`, '-R', '-C', '1', '-v']),
    ])
    assert.deepEqual(listed.stdout.toString().split('\n').filter(Boolean).sort(), [`${base}/a A`, `${base}/b B`])
    await ok(run(['pub', '-L', url.mqtt, '-t', `${base}/live`, '-m', 'fresh']))
    assert.equal((await ok(skipping.done)).stdout.toString(), `${base}/live fresh\n`)
    const removed = await ok(run(['sub', '-L', url.mqtt, '-t', `${base}/#`, '--retained-only', '--remove-retained', '-T', `${base}/b`, '-v']))
    assert.equal(removed.stdout.toString(), `${base}/a A\n`)
    const left = await ok(run(['sub', '-L', url.mqtt, '-t', `${base}/#`, '--retained-only', '-v']))
    assert.equal(left.stdout.toString(), `${base}/b B\n`)
  })

  s.add('MQTT 5: -D, --content-type, --response-topic, --correlation-data, -e, --payload-format and --subscription-id (%S); --retain-handling never', async () => {
    const topic = uid('v5')
    const retained = uid('v5rh')
    await ok(run(['pub', '-L', url.mqtt, '-t', retained, '-m', 'old', '-r', '-q', '1']))
    const [sub, never] = await Promise.all([
      startSub(['-L', url.ws, '-t', topic, '-C', '1', '--subscription-id', '5', '-F', '%P|%C|%R|%D|%E|%F|%S|%p']),
      startSub(['-L', url.mqtt, '-t', retained, '--retain-handling', 'never', '-C', '1', '-v']),
    ])
    await Promise.all([
      ok(run(['pub', '-L', url.mqtt, '-t', topic, '-m', 'x', '-q', '1', '-D', 'k=v', '-D', 'k2=v 2', '--content-type', 'text/plain', '--response-topic', 'replies/1', '--correlation-data', 'cid-1', '-e', '60', '--payload-format', '1'])),
      ok(run(['pub', '-L', url.mqtt, '-t', retained, '-m', 'new', '-q', '1'])),
    ])
    assert.equal((await ok(sub.done)).stdout.toString(), 'k:v k2:v 2|text/plain|replies/1|cid-1|60|1|5|x\n')
    assert.equal((await ok(never.done)).stdout.toString(), `${retained} new\n`)
  })

  s.add('pub --json prints what was sent (reason code 0x10: no subscribers matched)', async () => {
    const topic = uid('json')
    const r = await ok(run(['pub', '-L', url.mqtt, '-t', topic, '-m', 'hello', '-q', '1', '--repeat', '2', '--json', '-i', 'json-client']))
    assert.deepEqual(JSON.parse(r.stdout.toString()), {
      url: url.mqtt,
      clientId: 'json-client',
      count: 2,
      messages: [
        {topic, qos: 1, retain: false, reasonCode: 0x10, bytes: 5},
        {topic, qos: 1, retain: false, reasonCode: 0x10, bytes: 5},
      ],
    })
  })

  s.add('SIGINT ends sub cleanly with 0 (and a clean DISCONNECT)', async () => {
    const f = await scripted({})
    fakes.push(f)
    const sub = await startSub(['-L', f.url, '-t', uid('sigint')])
    sub.child.kill('SIGINT')
    const r = await sub.done
    assert.equal(r.code, 0, r.stderr)
    assert.equal(errors(r), '')
    await f.connections[0].waitFor('DISCONNECT', (p) => p.cmd === 'disconnect')
  })

  s.add('sub stops (0) when its reader goes away (`sub | head -1`); pub -l stops (1) when the broker drops it while stdin stays open', async () => {
    const f = await scripted({})
    fakes.push(f)
    const sub = await startSub(['-L', f.url, '-t', 'pipe'])
    sub.child.stdout!.destroy()
    f.connections[0].send(mqttPacket.generate({cmd: 'publish', topic: 'pipe', payload: Buffer.from('nobody reads this'), qos: 0, retain: false, dup: false}, {protocolVersion: 5}))
    const r = await sub.done
    assert.equal(r.code, 0, r.stderr)
    assert.equal(errors(r), '')

    const f2 = await scripted({})
    fakes.push(f2)
    const lines = await start(['pub', '-L', f2.url, '-t', 't', '-l', '--log-level', 'debug'], {keepStdin: true, readyWhen: /DEBUG connected/, timeoutMs: 20000})
    await f2.nextConnection()
    lines.child.stdin!.write('one\n')
    await f2.connections[0].waitFor('PUBLISH', (p) => p.cmd === 'publish')
    f2.connections[0].end()
    const pr = await lines.done
    assert.equal(pr.code, 1)
    assert.equal(errors(pr), `Error: ${f2.url}: the broker closed the connection`)
  })

  s.add('sub sends the connection and subscription options it is given (seen by a scripted broker)', async () => {
    const f = await scripted({granted: [1, 1]})
    fakes.push(f)
    const sub = await startSub(['-L', f.url, '-t', 'a/#', '-t', 'b', '-q', '1', '--no-local', '--retain-as-published', '--retain-handling', 'new', '--subscription-id', '77', '-D', 'who=me', '-i', 'opts-client', '-k', '30', '-c', '-x', '600', '-u', 'user', '-P', 'secret', '--will-topic', 'gone', '--will-payload', 'bye', '--will-qos', '1', '--will-retain', '-W', '60'])
    const conn = f.connections[0]
    const connect = conn.packets[0] as IConnectPacket
    assert.equal(connect.clientId, 'opts-client')
    assert.equal(connect.keepalive, 30)
    assert.equal(connect.clean, false)
    assert.equal(connect.properties?.sessionExpiryInterval, 600)
    assert.equal(connect.username, 'user')
    assert.equal(String(connect.password), 'secret')
    assert.deepEqual({topic: connect.will?.topic, payload: String(connect.will?.payload), qos: connect.will?.qos, retain: connect.will?.retain}, {topic: 'gone', payload: 'bye', qos: 1, retain: true})
    const sp = conn.packets.find((p) => p.cmd === 'subscribe') as ISubscribePacket
    assert.deepEqual(sp.subscriptions, [
      {topic: 'a/#', qos: 1, nl: true, rap: true, rh: 1},
      {topic: 'b', qos: 1, nl: true, rap: true, rh: 1},
    ])
    assert.equal(sp.properties?.subscriptionIdentifier, 77)
    assert.deepEqual({...sp.properties?.userProperties}, {who: 'me'})
    sub.child.kill('SIGTERM')
    assert.equal((await sub.done).code, 0)
  })

  s.add('-L as mosquitto takes it: USER:PASS@ for the credentials, the path of an mqtt:// URL for the topic', async () => {
    const f = await scripted({})
    fakes.push(f)
    const port = new URL(f.url).port
    await ok(run(['pub', '-L', `mqtt://u%40x:p%3Aw@127.0.0.1:${port}/from/url`, '-m', 'hi', '-q', '1']))
    const connect = f.connections[0].packets[0] as IConnectPacket
    assert.equal(connect.username, 'u@x')
    assert.equal(String(connect.password), 'p:w')
    const p = (await f.connections[0].waitFor('PUBLISH', (x) => x.cmd === 'publish')) as IPublishPacket
    assert.equal(p.topic, 'from/url')
  })

  s.add('exit code 2 for usage errors, with no prompt when stdin is not a TTY', async () => {
    const L = ['-L', url.mqtt]
    const cases: Array<[string[], RegExp]> = [
      [['pub', ...L, '-m', 'x'], /^Error: no topic: give one with -t TOPIC$/],
      [['sub', ...L], /^Error: no topic filter: give at least one with -t FILTER$/],
      [['pub', ...L, '-t', 'a', '-m', 'x', '-n'], /^Error: give only one of -m, -f, -s, -l, -n$/],
      [['pub', '-L', 'not a url', '-t', 'a', '-m', 'x'], /^Error: "not a url" is not a URL: write it as mqtt:\/\/HOST:PORT/],
      [['pub', ...L, '-t', 'a', '-m', 'x', '-V', '4.0'], /^Error: protocol version "4\.0" is not one of 3\.1, 3\.1\.1, 5/],
      [['pub', ...L, '-t', 'a', '-m', 'x', '-V', '3.1.1', '-D', 'k=v'], /^Error: MQTT 5 properties .* need -V 5$/],
      [['sub', ...L, '-t', 'a', '-V', '3.1.1', '--no-local'], /are MQTT 5 options: use -V 5$/],
      [['sub', ...L, '-t', 'a', '-F', '%Z'], /^Error: -F: invalid format specifier '%Z'/],
    ]
    const results = await Promise.all(cases.map(([args]) => run(args)))
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i][0].join(' ')} → ${r.code}\n${r.stderr}`)
      assert.match(r.stderr.trim(), cases[i][1], cases[i][0].join(' '))
      assert.equal(r.stdout.length, 0)
    })
  })

  s.add('exit code 1 for a refused connection and a WebSocket 404; --json failures print the error as JSON', async () => {
    const port = await closedPort()
    const [refused, notFound, json, secret] = await Promise.all([
      run(['pub', '-L', `mqtt://127.0.0.1:${port}`, '-t', 'a', '-m', 'x']),
      run(['sub', '-L', url.ws.replace('/mqtt', '/wrong'), '-t', 'a']),
      run(['pub', '--json', '-L', `mqtt://127.0.0.1:${port}`, '-t', 'a', '-m', 'x']),
      run(['sub', '-L', `mqtt://user:hunter2@127.0.0.1:${port}/a/#`]),
    ])
    // A password in the URL never shows up in messages.
    assert.equal(secret.code, 1)
    assert.equal(secret.stderr, refused.stderr)
    assert.equal(refused.code, 1)
    assert.equal(refused.stderr, `Error: mqtt://127.0.0.1:${port}: connection refused (ECONNREFUSED): no broker is listening there; check the host and port, or start one with \`mqttws serve\`\n`)
    assert.equal(notFound.code, 1)
    assert.equal(notFound.stderr, `Error: ${url.ws.replace('/mqtt', '/wrong')} answered 404: this broker serves MQTT over WebSocket on /mqtt, not on /wrong\n`)
    assert.equal(json.code, 1)
    assert.match((JSON.parse(json.stdout.toString()) as {error?: {message?: string}}).error?.message ?? '', /connection refused \(ECONNREFUSED\)/)
  })

  s.add('exit code 3 for a CONNACK refusal (3.1.1 and 5), a SUBACK refusal and a PUBACK refusal', async () => {
    const [v4, v5, subFail, pubFail] = await Promise.all([
      scripted({connack: connackBytes(4, 5)}),
      scripted({connack: connackBytes(5, 0x87)}),
      scripted({granted: [0x80]}),
      scripted({pubackCode: 0x87}),
    ])
    fakes.push(v4, v5, subFail, pubFail)
    const [a, b, c, d] = await Promise.all([
      run(['pub', '-L', v4.url, '-V', '3.1.1', '-t', 'a', '-m', 'x']),
      run(['sub', '-L', v5.url, '-t', 'a']),
      run(['sub', '-L', subFail.url, '-t', 'private/#']),
      run(['pub', '-L', pubFail.url, '-t', 'a', '-m', 'x', '-q', '1']),
    ])
    assert.deepEqual([a.code, b.code, c.code, d.code], [3, 3, 3, 3])
    assert.equal(a.stderr, `Error: ${v4.url}: the broker refused the connection: return code 5 (not authorized)\n`)
    assert.equal(b.stderr, `Error: ${v5.url}: the broker refused the connection: 0x87 not authorized\n`)
    assert.equal(c.stderr, 'Error: subscription to "private/#" refused with 0x80 unspecified error\n')
    assert.equal(d.stderr, 'Error: PUBACK refused with 0x87 not authorized\n')
  })

  describe('against Mosquitto (an independent broker)', function () {
    before(function () {
      if (!MOSQUITTO) {
        // eslint-disable-next-line no-console
        console.log('      (skipped: no mosquitto broker on this machine; Debian: apt-get install mosquitto)')
        this.skip()
      }
    })

    m.add('TCP, MQTT 3.1, 3.1.1 and 5: our sub receives what our pub sends through mosquitto (QoS 0, 1, 2)', async () => {
      await Promise.all(
        (['3.1', '3.1.1', '5'] as const).map(async (v, i) => {
          const topic = uid(`mosq/${v}`)
          const sub = await startSub(['-L', tcpUrl(), '-V', v, '-t', topic, '-q', '2', '-C', '1', '-F', '%t %q %p'])
          await ok(run(['pub', '-L', tcpUrl(), '-V', ['3.1.1', '5', '3.1'][i], '-t', topic, '-m', `q${i}`, '-q', String(i)]))
          assert.equal((await ok(sub.done)).stdout.toString(), `${topic} ${i} q${i}\n`)
        }),
      )
    })

    m.add('WebSocket: pub in every framing mode (packet, piggyback, split:3, split:1 with QoS 2) reaches sub over WS', async () => {
      if (!mosq?.ws) {
        // eslint-disable-next-line no-console
        console.log(`    (WebSocket part skipped: ${noWs})`)
        return
      }
      const topic = uid('mosq/ws')
      const sub = await startSub(['-L', wsUrl(), '-t', topic, '-q', '2', '-C', '4', '-v'])
      await Promise.all([
        ok(run(['pub', '-L', wsUrl(), '-t', `${topic}`, '-m', 'framing packet', '-q', '1', '--ws-framing', 'packet'])),
        ok(run(['pub', '-L', wsUrl(), '-t', `${topic}`, '-m', 'framing piggyback', '-q', '1', '--ws-framing', 'piggyback', '-V', '3.1'])),
        ok(run(['pub', '-L', wsUrl(), '-t', `${topic}`, '-m', 'framing split:3', '-q', '1', '--ws-framing', 'split:3'])),
        ok(run(['pub', '-L', wsUrl(), '-V', '3.1.1', '-t', topic, '-m', 'qos 2, split:1', '-q', '2', '--ws-framing', 'split:1'])),
      ])
      const got = (await ok(sub.done)).stdout.toString().split('\n').filter(Boolean).sort()
      assert.deepEqual(got, [`${topic} framing packet`, `${topic} framing piggyback`, `${topic} framing split:3`, `${topic} qos 2, split:1`])
    })

    m.add('-F output matches mosquitto_sub byte for byte (codes that do not depend on the clock)', async () => {
      if (!HAS_MOSQUITTO_CLIENTS) {
        // eslint-disable-next-line no-console
        console.log('    (skipped: mosquitto_sub is not on PATH; Debian: apt-get install mosquitto-clients)')
        return
      }
      const topic = uid('mosq/F')
      // Not compared: %Nx (mosquitto 2.0.11 prints only part of the payload), %m (ids differ per connection), the clock.
      const format = '%t|%p|%q|%r|%l|%x|%X|%C|%R|%E|%F|%P|%S|%10t|%-6l|%05l|%8p|%-14p|%3.1p|%.2p|%-3t|%5r|%%|\\t|\\v|\\\\|@@'
      const mosqSub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mosq!.tcp), '-V', 'mqttv5', '-t', topic, '-q', '1', '-C', '2', '-F', format], {stdio: ['ignore', 'pipe', 'pipe']})
      children.add(mosqSub)
      const mosqOut: Buffer[] = []
      mosqSub.stdout!.on('data', (d: Buffer) => mosqOut.push(d))
      const mosqDone = new Promise<number | null>((resolve) => mosqSub.once('close', resolve))
      const ours = await startSub(['-L', tcpUrl(), '-t', topic, '-q', '1', '-C', '2', '-F', format])
      await waitForMosquittoSubscriptions(mosq!.log, topic, 2)
      await ok(run(['pub', '-L', tcpUrl(), '-t', topic, '-q', '1', '-m', 'hello world', '-D', 'k=v', '-D', 'k2=v2', '--content-type', 'text/plain', '--response-topic', 'rt', '-e', '60', '--payload-format', '1']))
      await ok(run(['pub', '-L', tcpUrl(), '-t', topic, '-q', '0', '-m', 'x']))
      const r = await ok(ours.done)
      assert.equal(await mosqDone, 0)
      assert.equal(r.stdout.toString(), Buffer.concat(mosqOut).toString())
    })

    m.add('mosquitto_pub -l lines and -V 5 properties reach our sub', async () => {
      if (!HAS_MOSQUITTO_CLIENTS) return
      const topic = uid('mosq/pub')
      const sub = await startSub(['-L', tcpUrl(), '-t', topic, '-q', '1', '-C', '3', '-F', '%p|%C|%P'])
      const lines = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq!.tcp), '-t', topic, '-l', '-q', '1'], {stdio: ['pipe', 'ignore', 'ignore']})
      children.add(lines)
      lines.stdin!.end('a\nb\n')
      await new Promise((resolve) => lines.once('close', resolve))
      const props = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosq!.tcp), '-V', 'mqttv5', '-t', topic, '-m', 'c', '-q', '1', '-D', 'publish', 'content-type', 'text/x', '-D', 'publish', 'user-property', 'u', '1'], {stdio: 'ignore'})
      children.add(props)
      assert.equal(await new Promise((resolve) => props.once('close', resolve)), 0)
      assert.equal((await ok(sub.done)).stdout.toString(), 'a||\nb||\nc|text/x|u:1\n')
    })
  })
})
