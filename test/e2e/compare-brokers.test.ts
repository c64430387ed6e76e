/**
 * End-to-end: tools/compare-brokers/compare-brokers.ts at its smallest (one round, one second, fan-in only)
 * prints a figure per broker per transport and leaves no broker running, also on Ctrl-C.
 * The ratio targets themselves are not judged here: one second is too short for that.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {hasMosquitto} from '../helpers/mosquitto.js'

const SCRIPT = fileURLToPath(new URL('../../tools/compare-brokers/compare-brokers.ts', import.meta.url))

interface Finished {
  code: number | null
  stdout: string
  stderr: string
}

function runScript(args: string[], options: {timeoutMs: number; interruptWhen?: RegExp}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    let interrupted = false
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => {
      stderr += d
      if (options.interruptWhen && !interrupted && options.interruptWhen.test(stderr)) {
        interrupted = true
        child.kill('SIGINT')
      }
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`compare-brokers did not finish within ${options.timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

/** The brokers' pids, as the script announces them ("… mqttws (pid 123)…"). */
function brokerPids(stderr: string): number[] {
  return [...stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]))
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: alive but not ours to signal (Mosquitto drops to its own user).
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function tableRow(stdout: string, title: string, transport: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`| ${title}`) && l.split('|')[2]?.trim() === transport)
  assert.ok(line, `no table row for ${title} ${transport} in:\n${stdout}`)
  return line.split('|').slice(1, -1).map((c) => c.trim())
}

describe('e2e: tools/compare-brokers/compare-brokers.ts', function () {
  this.timeout(90000)

  it('prints a figure per broker for fan-in over tcp and ws, then stops every broker', async () => {
    const r = await runScript(['--rounds', '1', '--duration', '1', '--only', 'fan-in'], {timeoutMs: 80000})
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}\n${r.stderr}`)
    assert.match(r.stdout, /- Node: v\d+/)
    assert.match(r.stdout, /- Aedes: \d+\.\d+\.\d+/)
    assert.match(r.stdout, hasMosquitto() ? /- Mosquitto: mosquitto version/ : /- Mosquitto: not installed/)
    const header = r.stdout.split('\n').find((l) => l.startsWith('| Scenario'))
    assert.ok(header, r.stdout)
    const columns = header.split('|').slice(1, -1).map((c) => c.trim())
    const brokers = hasMosquitto() ? ['mqttws', 'Mosquitto', 'Aedes'] : ['mqttws', 'Aedes']
    assert.deepEqual(columns.slice(3, 3 + brokers.length), brokers)
    assert.ok(columns.includes('mqttws/Aedes'))
    assert.equal(columns.includes('mqttws/Mosquitto'), hasMosquitto())
    for (const transport of ['tcp', 'ws']) {
      const row = tableRow(r.stdout, 'Fan-in 10→1, QoS 0, 16 B', transport)
      assert.equal(row[2], 'msg/s')
      // A broker that lost messages in the row has its figure marked not comparable (n/c), and no ratio.
      const lost = row[3 + brokers.length + brokers.length - 1]!.split(' / ')
      assert.equal(lost.length, brokers.length, row.join(' | '))
      for (const [i, broker] of brokers.entries()) {
        const figure = lost[i] === '0' ? /^[\d,]+$/ : /^[\d,]+ \(n\/c\)$/
        assert.match(row[3 + i]!, figure, `${broker} ${transport}: ${row[3 + i]} (lost ${lost[i]})`)
      }
      assert.match(row.at(-1)!, /^(PASS|FAIL|SKIP)$/)
    }
    assert.match(r.stdout, /^(All \d+ rows with targets: PASS|FAIL: \d+ of \d+ rows)/m)
    const pids = brokerPids(r.stderr)
    assert.equal(pids.length, 2 * brokers.length, r.stderr)
    assert.deepEqual(pids.filter(isAlive), [])
  })

  it('stops the brokers on Ctrl-C', async () => {
    const r = await runScript(['--rounds', '1', '--duration', '5', '--only', 'fan-in'], {timeoutMs: 30000, interruptWhen: /\(pid \d+\)/})
    assert.equal(r.code, 130, r.stderr)
    const pids = brokerPids(r.stderr)
    assert.equal(pids.length, 1)
    assert.deepEqual(pids.filter(isAlive), [])
  })
})
