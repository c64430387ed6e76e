/** Where and with what the comparison ran, printed above the table. */
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import os from 'node:os'
import {join} from 'node:path'
import {hasMosquitto, MOSQUITTO, ROOT} from '../peers/start.js'

function firstLine(command: string, args: string[]): string | undefined {
  const r = spawnSync(command, args, {cwd: ROOT, encoding: 'utf8', timeout: 5000})
  return `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').find((l) => l.trim() !== '')?.trim()
}

function packageVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {version: string}).version
  } catch {
    return 'not installed'
  }
}

function gitRevision(): string {
  const head = firstLine('git', ['rev-parse', '--short', 'HEAD'])
  if (!head || head.includes('fatal')) return ''
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], {cwd: ROOT, encoding: 'utf8'}).stdout?.trim()
  return ` (git ${head}${dirty ? ', with uncommitted changes' : ''})`
}

export function mosquittoVersion(): string | undefined {
  // `mosquitto -h` prints its version first, then the usage (and exits non-zero).
  return hasMosquitto() ? firstLine(MOSQUITTO, ['-h']) : undefined
}

export function describeMachine(settings: string): string[] {
  const cpus = os.cpus()
  return [
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}`,
    `- Node: ${process.version}`,
    `- mqttws: ${packageVersion(ROOT)}${gitRevision()}`,
    `- Mosquitto: ${mosquittoVersion() ?? `not installed (${MOSQUITTO}): its columns are skipped`}`,
    `- Aedes: ${packageVersion(join(ROOT, 'node_modules', 'aedes'))}`,
    `- Settings: ${settings}`,
  ]
}
