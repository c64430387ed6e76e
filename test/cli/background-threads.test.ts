import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import mqtt from 'mqtt'
import {BACKGROUND_NICE, lowerBackgroundThreads} from '../../src/cli/background-threads.js'
import {startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'

/** Each thread's nice value, from /proc/PID/task/TID/stat (field 19; the name in field 2 may hold spaces). */
function niceByThread(pid: number): Map<number, number> {
  const nice = new Map<number, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      nice.set(Number(tid), Number(fields[16]))
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return nice
}

describe('serve: helper threads at the lowest priority', function () {
  this.timeout(30_000)
  let broker: ServeProcess | undefined
  let dir: string | undefined
  afterEach(async () => {
    await broker?.stop('SIGKILL')
    broker = undefined
    if (dir) rmSync(dir, {recursive: true, force: true})
    dir = undefined
  })

  it('does nothing where a thread has no priority of its own (not Linux)', () => {
    assert.equal(lowerBackgroundThreads('darwin'), 0)
    assert.equal(lowerBackgroundThreads('win32'), 0)
  })

  it('lowers V8 and libuv helper threads, never the event loop', async function () {
    if (process.platform !== 'linux') this.skip()
    broker = await startServe(['--listen', 'mqtt://127.0.0.1:0'])
    const pid = broker.child.pid!
    const nice = niceByThread(pid)
    assert.equal(nice.get(pid), 0, 'the main thread (the event loop) keeps its priority')
    const lowered = [...nice].filter(([tid, n]) => tid !== pid && n === BACKGROUND_NICE)
    // V8's platform workers alone are four by default (compiler, GC helpers).
    assert.ok(lowered.length >= 4, `helper threads at nice ${BACKGROUND_NICE}: ${JSON.stringify([...nice])}`)
  })

  it('starts the SQLite writer thread afterwards, at the event loop priority (QoS 1/2 acknowledgements wait for it)', async function () {
    if (process.platform !== 'linux') this.skip()
    dir = mkdtempSync(path.join(tmpdir(), 'mqttws-nice-'))
    broker = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--data-dir', dir])
    const pid = broker.child.pid!
    // The writer starts with the first commit: a retained QoS 1 message, acknowledged once on disk.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.listeners[0].port}`, {reconnectPeriod: 0})
    await client.publishAsync('nice/state', 'kept', {qos: 1, retain: true})
    await client.endAsync()
    const normal = [...niceByThread(pid)].filter(([tid, n]) => tid !== pid && n === 0)
    assert.equal(normal.length, 1, `one thread besides the main one at nice 0 (the writer): ${JSON.stringify([...niceByThread(pid)])}`)
  })
})
