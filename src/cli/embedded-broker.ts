/**
 * `bench` without --url measures our own broker in a separate process (so the load
 * generator and the broker do not share a thread): `mqttws serve` on loopback, ports
 * chosen by the OS, TLS with a throwaway development certificate.
 */
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {createInterface} from 'node:readline'
import {TransportError} from '../core/errors.js'

export interface EmbeddedBroker {
  urls: {tcp: string; tls: string; ws: string; wss: string}
  /** PEM of the development certificate, to trust for tls/wss. */
  ca: string
  pid: number
  stop(): Promise<void>
}

export async function startEmbeddedBroker(binPath: string, extraArgs: string[] = []): Promise<EmbeddedBroker> {
  const args = [
    binPath,
    'serve',
    '--json',
    '--log-level',
    'error',
    '--dev-cert',
    '--admin',
    'off',
    '--listen',
    'mqtt://127.0.0.1:0',
    '--listen',
    'mqtts://127.0.0.1:0',
    '--listen',
    'ws://127.0.0.1:0/mqtt',
    '--listen',
    'wss://127.0.0.1:0/mqtt',
    ...extraArgs,
  ]
  // The IPC channel is the lifeline: if this process dies, serve sees 'disconnect' and stops.
  const child: ChildProcess = spawn(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe', 'ipc']})
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d
  })
  const urls: Partial<EmbeddedBroker['urls']> = {}
  let certFile: string | undefined
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TransportError(`the embedded broker did not start within 15 s: ${stderr.trim()}`)), 15_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new TransportError(`the embedded broker exited with ${code}: ${stderr.trim()}`))
    })
    createInterface({input: child.stdout!}).on('line', (line) => {
      let e: {event?: string; scheme?: string; url?: string; file?: string}
      try {
        e = JSON.parse(line)
      } catch {
        return
      }
      if (e.event === 'listening' && e.url) {
        const key = ({mqtt: 'tcp', mqtts: 'tls', ws: 'ws', wss: 'wss'} as const)[e.scheme as 'mqtt']
        if (key) urls[key] = e.url
      } else if (e.event === 'devCert') certFile = e.file
      else if (e.event === 'ready') {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  try {
    await ready
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  const ca = certFile ? await readFile(certFile, 'utf8') : ''
  return {
    urls: urls as EmbeddedBroker['urls'],
    ca,
    pid: child.pid ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
        child.kill('SIGTERM')
      }),
  }
}
