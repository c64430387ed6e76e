/** Runs the built binary (bin/run.js) as a child process, as a user would. */
import {spawn} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {createInterface} from 'node:readline'

export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface ServeProcess {
  child: ChildProcess
  /** The JSON 'listening' lines, in order. */
  listeners: Array<{id: string; scheme: string; host: string; port: number; url: string; path?: string}>
  stderr(): string
  stdoutLines: string[]
  /** The development certificate file announced with --dev-cert. */
  devCertFile?: string
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `mqttws ARGS` to completion (with a time limit) and returns its output. */
export function runBin(args: string[], options: {timeoutMs?: number; env?: NodeJS.ProcessEnv} = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {env: {...process.env, ...options.env}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`mqttws ${args.join(' ')} did not finish within ${options.timeoutMs ?? 15000} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 15000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

/** Starts `mqttws serve ARGS --json` and resolves once it printed its 'ready' line. */
export function startServe(args: string[], options: {env?: NodeJS.ProcessEnv} = {}): Promise<ServeProcess> {
  // No admin API unless a test asks for one (--admin URL wins over the environment):
  // parallel brokers would race for its default port and token file.
  const env = {...process.env, MQTTWS_ADMIN: 'off', ...options.env}
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--json'], {env, stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const stdoutLines: string[] = []
  const listeners: ServeProcess['listeners'] = []
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const proc: ServeProcess = {
    child,
    listeners,
    stdoutLines,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`serve did not become ready within 15 s\nstderr: ${stderr}`))
    }, 15000)
    createInterface({input: child.stdout!}).on('line', (line) => {
      stdoutLines.push(line)
      let event: {event?: string} & ServeProcess['listeners'][number]
      try {
        event = JSON.parse(line)
      } catch {
        return
      }
      if (event.event === 'listening') listeners.push(event)
      if (event.event === 'devCert') proc.devCertFile = (event as unknown as {file: string}).file
      if (event.event === 'ready') {
        clearTimeout(timer)
        resolve(proc)
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited with ${code} before it was ready\nstderr: ${stderr}`))
    })
  })
}

export function killQuietly(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

/** A `serve` with an admin API (token in a file of its temporary folder) and an MQTT listener, for e2e tests of the admin commands. */
export interface AdminServe {
  serve: ServeProcess
  dir: string
  /** The `admin` line serve printed: {url, tokenFile, dashboard}. */
  admin: {url: string; token: string; tokenFile?: string; dashboard?: string}
  /** MQTTWS_ADMIN_TOKEN_FILE pointing at the token, for runBin. */
  env: NodeJS.ProcessEnv
  /** The first listener's URL. */
  mqttUrl: string
}

/**
 * Mocha hooks: before, serve with `args` (plus an MQTT and an admin listener) and, when given,
 * a config file `config` in its folder; after, stops it and removes the folder. Read the
 * returned object's fields in tests (they are set by the before hook).
 */
export function useAdminServe(prefix: string, args: string[] = [], config?: string): AdminServe {
  const fixture = {} as AdminServe
  before(async () => {
    fixture.dir = await mkdtemp(join(tmpdir(), `mqttws-${prefix}-`))
    fixture.env = {MQTTWS_ADMIN_TOKEN_FILE: join(fixture.dir, 'token'), MQTTWS_ADMIN_TOKEN: ''}
    const configArgs: string[] = []
    if (config !== undefined) {
      const file = join(fixture.dir, 'mqttws.yaml')
      await writeFile(file, config)
      configArgs.push('--config', file)
    }
    fixture.serve = await startServe([...configArgs, '--listen', 'mqtt://127.0.0.1:0', '--admin', 'http://127.0.0.1:0', '--sys-interval', '0', ...args], {env: fixture.env})
    const events = fixture.serve.stdoutLines.map((l) => JSON.parse(l) as {event?: string; url?: string})
    fixture.admin = events.find((e) => e.event === 'admin') as AdminServe['admin']
    fixture.mqttUrl = events.find((e) => e.event === 'listening')?.url ?? ''
    if (!fixture.admin || !fixture.mqttUrl) throw new Error(`serve printed no admin or listening line:\n${fixture.serve.stdoutLines.join('\n')}`)
  })
  after(async () => {
    await fixture.serve?.stop()
    if (fixture.dir) await rm(fixture.dir, {recursive: true, force: true})
  })
  return fixture
}
