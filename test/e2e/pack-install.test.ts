/**
 * Issue 18 item 1: the package as users get it. `npm pack`, then `npm install -g` of the
 * tarball into a temporary prefix, then the installed `mqttws` runs --version and a serve +
 * sub + pub round trip (TCP and WebSocket), from outside the repository: a file missing
 * from package.json `files` or an import of a devDependency fails here.
 *
 * --ignore-scripts: no native build of better-sqlite3 (minutes of C++), which serve loads
 * only with --data-dir. --prefer-offline: npm's cache is used where it can be.
 */
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {createInterface} from 'node:readline'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const NETWORK = /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET/

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): {code: number | null; stdout: string; stderr: string} {
  const r = spawnSync(cmd, args, {cwd, env, encoding: 'utf8', timeout: timeoutMs})
  return {code: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`}
}

describe('e2e: npm pack → npm install -g → mqttws', function () {
  this.timeout(300_000)
  let dir: string
  let bin: string
  let env: NodeJS.ProcessEnv
  const children = new Set<ChildProcess>()

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'mqttws-pack-'))
    // A HOME of its own: nothing of the user's ~/.mqttws or oclif data dirs is read.
    env = {...process.env, HOME: dir, MQTTWS_ADMIN: 'off', npm_config_update_notifier: 'false'}
    for (const k of Object.keys(env)) if (k.startsWith('npm_package_') || k === 'npm_lifecycle_event' || k === 'npm_lifecycle_script') delete env[k]
    env.npm_config_cache = process.env.npm_config_cache ?? join(process.env.HOME ?? '/root', '.npm')
    const pack = run('npm', ['pack', '--json', '--pack-destination', dir], ROOT, env, 120_000)
    assert.equal(pack.code, 0, pack.stderr)
    const tarball = join(dir, (JSON.parse(pack.stdout) as Array<{filename: string}>)[0].filename)
    const prefix = join(dir, 'prefix')
    const install = run('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], dir, env, 240_000)
    if (install.code !== 0 && NETWORK.test(install.stderr)) {
      console.log(`    (skipped: npm could not reach the registry or its cache: ${NETWORK.exec(install.stderr)?.[0]})`)
      this.skip()
    }
    assert.equal(install.code, 0, install.stderr)
    bin = join(prefix, 'bin', 'mqttws')
    assert.ok(existsSync(bin), `npm install -g put no mqttws in ${prefix}/bin`)
  })

  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('mqttws --version prints the package version', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {version: string}).version
    const r = run(bin, ['--version'], dir, env, 30_000)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^mqttws/${version.replaceAll('.', '\\.')} `))
  })

  it('serve, then sub over WebSocket and pub over TCP, all from the installed command', async () => {
    const serve = spawn(bin, ['serve', '--listen', 'tcp://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--json'], {cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe']})
    children.add(serve)
    let serveErr = ''
    serve.stderr!.on('data', (d) => (serveErr += d))
    const urls: Record<string, string> = {}
    await new Promise<void>((resolve, reject) => {
      serve.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${serveErr}`)))
      createInterface({input: serve.stdout!}).on('line', (line) => {
        const e = JSON.parse(line) as {event: string; scheme?: string; url?: string}
        if (e.event === 'listening') urls[e.scheme!] = e.url!
        if (e.event === 'ready') resolve()
      })
    })
    const sub = spawn(bin, ['sub', '-L', urls.ws, '-t', 'pack/test', '-C', '1', '-W', '60', '--log-level', 'debug'], {cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe']})
    children.add(sub)
    let out = ''
    let err = ''
    sub.stdout!.on('data', (d) => (out += d))
    const exited = new Promise<number | null>((resolve) => sub.on('exit', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      sub.stderr!.on('data', (d) => {
        err += d
        if (/subscribed/.test(err)) resolve()
      })
      void exited.then((code) => reject(new Error(`sub exited with ${code} before subscribing: ${err}`)))
    })
    const pub = run(bin, ['pub', '-L', urls.mqtt, '-t', 'pack/test', '-m', 'from the tarball', '-q', '1'], dir, env, 30_000)
    assert.equal(pub.code, 0, pub.stderr)
    assert.equal(await exited, 0, err)
    assert.equal(out, 'from the tarball\n')
    serve.kill('SIGTERM')
  })
})
