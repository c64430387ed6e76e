#!/usr/bin/env node
/**
 * `npm start`: build only when the build is missing or older than what it is built from,
 * then let the caller start the broker. A build is the last outputs of `npm run build`
 * (the oclif manifest, the pub/sub quick-start bundle, the dashboard); its inputs are src/,
 * scripts/, package.json and the TypeScript configuration.
 */
import {spawnSync} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const OUTPUTS = ['oclif.manifest.json', 'dist/index.js', 'dist/fast-path.cjs', 'dist/dashboard/index.html']
export const INPUTS = ['src', 'scripts', 'package.json', 'tsconfig.json']

/** Newest modification time under `path` (a file or a directory tree), with the file that has it. */
function newest(path) {
  let best = {mtimeMs: 0, file: path}
  const st = statSync(path, {throwIfNoEntry: false})
  if (!st) return best
  if (!st.isDirectory()) return {mtimeMs: st.mtimeMs, file: path}
  for (const entry of readdirSync(path, {withFileTypes: true})) {
    const n = newest(join(path, entry.name))
    if (n.mtimeMs > best.mtimeMs) best = n
  }
  return best
}

/** Why `root` needs a build, or undefined when its build is up to date. */
export function staleReason(root) {
  let oldest
  for (const out of OUTPUTS) {
    const st = statSync(join(root, out), {throwIfNoEntry: false})
    if (!st) return `${out} is missing`
    if (!oldest || st.mtimeMs < oldest.mtimeMs) oldest = {mtimeMs: st.mtimeMs, file: out}
  }
  for (const input of INPUTS) {
    const n = newest(join(root, input))
    if (n.mtimeMs > oldest.mtimeMs) return `${n.file.slice(root.length + 1)} is newer than ${oldest.file}`
  }
  return undefined
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
  const reason = staleReason(root)
  if (reason !== undefined) {
    process.stderr.write(`Building first: ${reason}.\n`)
    const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], {cwd: root, stdio: 'inherit'})
    process.exit(r.status ?? 1)
  }
}
