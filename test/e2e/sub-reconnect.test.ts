/**
 * Issue 18 item 6: `sub --reconnect` for long-running use: the broker goes away and comes
 * back; sub connects again (with a backoff), subscribes again, and -C counts across
 * connections. Without --reconnect the lost connection ends sub with exit 1.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {BIN, startServe} from '../helpers/spawn.js'
import type {ServeProcess} from '../helpers/spawn.js'
import {closedPort} from '../helpers/ports.js'
import {connectMqttJs} from '../helpers/mqttjs.js'

interface Sub {
  child: ChildProcess
  out(): string
  err(): string
  /** Resolves once stderr matched `re` `times` times. */
  waitErr(re: RegExp, times?: number): Promise<void>
  exited: Promise<number | null>
}

function startSub(args: string[]): Sub {
  const child = spawn(process.execPath, [BIN, 'sub', ...args, '--log-level', 'debug'], {stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    async waitErr(re, times = 1) {
      const global = new RegExp(re.source, 'g')
      for (let i = 0; i < 600; i++) {
        if ((err.match(global) ?? []).length >= times) return
        if (child.exitCode !== null) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`sub's stderr did not show ${re} ${times} time(s):\n${err}`)
    },
  }
}

async function publishRetained(port: number, topic: string, payload: string): Promise<void> {
  const c = await connectMqttJs(`mqtt://127.0.0.1:${port}`)
  await c.publishAsync(topic, payload, {qos: 1, retain: true})
  await c.endAsync()
}

describe('e2e: sub --reconnect', function () {
  this.timeout(120_000)
  let serve: ServeProcess | undefined
  let sub: Sub | undefined

  afterEach(async () => {
    sub?.child.kill('SIGKILL')
    await serve?.stop()
    serve = undefined
  })

  it('the broker restarts: sub reconnects, subscribes again, and -C counts messages across connections', async () => {
    const port = await closedPort()
    serve = await startServe(['--listen', `tcp://127.0.0.1:${port}`])
    sub = startSub(['-p', String(port), '-h', '127.0.0.1', '-t', 'rc/#', '-v', '-C', '2', '--reconnect'])
    await sub.waitErr(/subscribed/)
    await publishRetained(port, 'rc/one', 'first')
    for (let i = 0; i < 200 && !sub.out().includes('first'); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    await serve.stop()
    await sub.waitErr(/connection lost: .*reconnecting in 1 s/)
    serve = await startServe(['--listen', `tcp://127.0.0.1:${port}`])
    await sub.waitErr(/subscribed/, 2)
    await publishRetained(port, 'rc/two', 'second')
    assert.equal(await sub.exited, 0, sub.err())
    assert.equal(sub.out(), 'rc/one first\nrc/two second\n')
  })

  it('without --reconnect, a lost connection ends sub with exit 1', async () => {
    serve = await startServe(['--listen', 'tcp://127.0.0.1:0'])
    sub = startSub(['-p', String(serve.listeners[0].port), '-h', '127.0.0.1', '-t', 'rc/x'])
    await sub.waitErr(/subscribed/)
    await serve.stop()
    assert.equal(await sub.exited, 1)
    assert.doesNotMatch(sub.err(), /reconnecting/)
  })
})
