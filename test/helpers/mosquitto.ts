/** Debian's Mosquitto broker as an independent peer, on a free loopback port. */
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {closedPort} from './ports.js'

export const MOSQUITTO = '/usr/sbin/mosquitto'

export function hasMosquitto(): boolean {
  return existsSync(MOSQUITTO)
}

export interface RunningMosquitto {
  port: number
  child: ChildProcess
  stop(): Promise<void>
}

/** Starts mosquitto with one anonymous TCP listener on 127.0.0.1 and waits until it accepts. */
export async function startMosquitto(): Promise<RunningMosquitto> {
  const port = await closedPort()
  const dir = mkdtempSync(join(tmpdir(), 'mqttws-mosquitto-'))
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
  const child = spawn(MOSQUITTO, ['-c', conf], {stdio: 'ignore'})
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) break
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    port,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
