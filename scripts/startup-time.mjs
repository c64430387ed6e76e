#!/usr/bin/env node
/**
 * Start-up time of a one-shot `mqttws pub` to a local broker, against `node -e 0`
 * (the yardstick: pub within 2x of it).
 *
 *   node scripts/startup-time.mjs [RUNS]     (default 10; after `npm run build`)
 *
 * Starts `mqttws serve` on a free port, then runs, RUNS times and interleaved so that a
 * busy machine slows every variant alike: `node -e 0`, pub (quick start, as users run it),
 * and pub with MQTTWS_FAST_START=0 (oclif's normal start). Prints the median and the fastest
 * wall time of each, and CPU time (user + system) when /usr/bin/time is there (its own
 * start, a millisecond or so, is then in every variant's wall time alike).
 */
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'

const runs = Number(process.argv[2] ?? 10)
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const serve = spawn(process.execPath, [bin, 'serve', '--listen', 'mqtt://127.0.0.1:0', '--admin', 'off', '--log-level', 'error', '--json'], {stdio: ['ignore', 'pipe', 'ignore']})
const port = await new Promise((resolve, reject) => {
  serve.once('exit', (code) => reject(new Error(`serve exited with ${code}`)))
  createInterface({input: serve.stdout}).on('line', (line) => {
    const event = JSON.parse(line)
    if (event.event === 'listening') resolve(event.port)
  })
})

const pub = [bin, 'pub', '-h', '127.0.0.1', '-p', String(port), '-t', 'startup/time', '-m', 'hi']
const variants = [
  {name: 'node -e 0', args: ['-e', '0'], env: {}},
  {name: 'pub', args: pub, env: {}},
  {name: 'pub, MQTTWS_FAST_START=0', args: pub, env: {MQTTWS_FAST_START: '0'}},
]
const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined
const dir = mkdtempSync(join(tmpdir(), 'mqttws-startup-'))
const cpuFile = join(dir, 'cpu')
const results = variants.map(() => ({wall: [], cpu: []}))
try {
  for (let i = 0; i < runs; i++) {
    for (const [v, variant] of variants.entries()) {
      const [file, args] = time ? [time, ['-f', '%U %S', '-o', cpuFile, process.execPath, ...variant.args]] : [process.execPath, variant.args]
      const start = process.hrtime.bigint()
      const ran = spawnSync(file, args, {env: {...process.env, ...variant.env}, stdio: ['ignore', 'ignore', 'pipe']})
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      if (ran.status !== 0) throw new Error(`${variant.name} exited with ${ran.status}: ${ran.stderr}`)
      results[v].wall.push(ms)
      if (time) results[v].cpu.push(readFileSync(cpuFile, 'utf8').trim().split(/\s+/).reduce((a, b) => a + Number(b) * 1000, 0))
    }
  }
} finally {
  serve.kill()
  rmSync(dir, {recursive: true, force: true})
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const base = median(results[0].wall)
console.log(`${runs} runs each, interleaved; wall ms: median (fastest), x node -e 0${time ? '; CPU ms (user+sys): median' : ''}`)
for (const [v, variant] of variants.entries()) {
  const {wall, cpu} = results[v]
  const cols = [variant.name.padEnd(26), `${median(wall).toFixed(0).padStart(5)} (${Math.min(...wall).toFixed(0)})`, `x${(median(wall) / base).toFixed(2)}`]
  if (time) cols.push(`cpu ${median(cpu).toFixed(0)}`)
  console.log(cols.join('  '))
}
