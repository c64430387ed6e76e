/**
 * Quick start for `pub` and `sub` (loaded by bin/run.js before anything else). oclif's
 * start-up (loading @oclif/core, Config.load's plugin and command discovery) costs several
 * times a one-shot publish, so when nothing it does could change the outcome, bin/run.js
 * runs the command from dist/fast-path.cjs instead: src/cli/fast-path.ts and what it
 * imports, bundled into one file by scripts/bundle-fast-path.mjs, with a V8 code cache.
 *
 * This file only decides and loads; it must stay small and import nothing but node:*.
 * bin/run.js requires it as dist/fast-start.cjs, a CommonJS copy made with the bundle:
 * loading ES modules costs more (a file read through fs/promises, a module wrapper for each
 * node:* import), and this runs before every command.
 * MQTTWS_FAST_START=0 turns the quick start off.
 */
import {existsSync, readFileSync, statSync} from 'node:fs'
import {createRequire} from 'node:module'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

export const FAST_COMMANDS: readonly string[] = ['pub', 'sub']

/** The `oclif` keys of package.json the quick start knows to have no effect on pub and sub (helpClass: --help never takes it). */
const KNOWN_OCLIF_KEYS = new Set(['bin', 'dirname', 'commands', 'plugins', 'topicSeparator', 'topics', 'hooks', 'helpClass'])

/** Plugins and hooks that change nothing for pub and sub (help; shell completion; the command_not_found hook). */
const KNOWN_PLUGINS = '["@oclif/plugin-help","@oclif/plugin-autocomplete"]'
const KNOWN_HOOKS = new Set(['command_not_found'])

interface Pjson {
  name: string
  version: string
  oclif?: Record<string, unknown> & {bin?: string; dirname?: string; plugins?: unknown}
}

/** Where oclif's Config.load looks for user plugins and a user theme (config.ts: dir()). */
function oclifDirs(pjson: Pjson, env: NodeJS.ProcessEnv): {data: string; config: string} {
  const bin = String(pjson.oclif?.bin ?? pjson.name)
  const dirname = String(pjson.oclif?.dirname ?? pjson.name)
  const scoped = (k: string): string | undefined => env[`${bin.replaceAll('@', '').replaceAll(/[/-]/g, '_')}_${k}`.toUpperCase()]
  const home = env.HOME || homedir()
  return {
    data: scoped('DATA_DIR') || join(env.XDG_DATA_HOME || join(home, '.local/share'), dirname),
    config: scoped('CONFIG_DIR') || join(env.XDG_CONFIG_HOME || join(home, '.config'), dirname),
  }
}

/**
 * Why `mqttws ARGV` must take oclif's normal path, or undefined when the quick start gives
 * the same result. `exists` is fs.existsSync (a parameter for tests).
 */
export function fastStartRefusal(argv: readonly string[], env: NodeJS.ProcessEnv, pjson: Pjson, exists: (path: string) => boolean = existsSync): string | undefined {
  if (env.MQTTWS_FAST_START === '0') return 'MQTTWS_FAST_START=0'
  if (!FAST_COMMANDS.includes(argv[0])) return 'not pub or sub'
  // oclif reads `pub word` as the command "pub:word" (topicSeparator ' '): only a flag may follow.
  if (argv.length > 1 && !argv[1].startsWith('-')) return 'an argument after the command'
  // oclif shows help for --help anywhere before `--` (even as a flag's value).
  if (argv.includes('--help')) return '--help'
  if (process.platform === 'win32') return 'Windows'
  // oclif's debug output (DEBUG=*, MQTTWS_DEBUG=1) describes its full start-up.
  if (env.DEBUG !== undefined || env.MQTTWS_DEBUG !== undefined) return 'DEBUG'
  const oclif = pjson.oclif ?? {}
  const unknown = Object.keys(oclif).find((k) => !KNOWN_OCLIF_KEYS.has(k))
  // hooks, a theme, help or version flag additions, exit codes...: the full config applies them.
  if (unknown !== undefined) return `package.json oclif.${unknown}`
  if (JSON.stringify(oclif.plugins ?? []) !== KNOWN_PLUGINS) return 'package.json oclif.plugins'
  if (Object.keys((oclif.hooks ?? {}) as object).some((h) => !KNOWN_HOOKS.has(h))) return 'package.json oclif.hooks'
  try {
    // oclif warns when the current directory is gone.
    process.cwd()
  } catch {
    return 'no current directory'
  }
  const dirs = oclifDirs(pjson, env)
  if (exists(join(dirs.data, 'package.json'))) return 'user plugins'
  if (exists(join(dirs.config, 'theme.json'))) return 'user theme'
  return undefined
}

/** The CommonJS wrapper the bundle runs in: `__import` is a real import(), which vm.Script code cannot call. */
export function wrapBundle(source: string): string {
  return `(function (exports, require, module, __filename, __dirname, __import) {${source}\n})`
}

interface FastPathModule {
  run(id: string, argv: string[], root: string, pjson: Pjson): Promise<boolean>
}

/**
 * Compiles and runs a bundle in this context, as require() would, with its code cache when
 * that is at least as recent as the bundle (V8 rejects one from another Node or V8 flags).
 */
export function loadBundle(file: string, cacheFile: string | undefined, importModule: (specifier: string) => Promise<unknown>): {exports: unknown; script: vm.Script} {
  let cachedData: Buffer | undefined
  if (cacheFile !== undefined) {
    try {
      if (statSync(cacheFile).mtimeMs >= statSync(file).mtimeMs) cachedData = readFileSync(cacheFile)
    } catch {
      // no cache: compile
    }
  }
  const script = new vm.Script(wrapBundle(readFileSync(file, 'utf8')), {filename: file, cachedData})
  const module = {exports: {}}
  const init = script.runInThisContext() as (...args: unknown[]) => void
  init.call(module.exports, module.exports, createRequire(file), module, file, dirname(file), importModule)
  return {exports: module.exports, script}
}

/**
 * Runs `mqttws ARGV` through the quick start when it may. Resolves false when bin/run.js
 * must run oclif as usual (nothing was done), true when the command ran.
 * `binUrl` is bin/run.js's import.meta.url; `importModule` is its own import().
 */
export async function fastStart(argv: string[], binUrl: string, importModule: (specifier: string) => Promise<unknown>): Promise<boolean> {
  const root = dirname(dirname(fileURLToPath(binUrl)))
  const bundle = join(root, 'dist', 'fast-path.cjs')
  let pjson: Pjson
  try {
    // tsc rewrites every output, so an entry newer than the bundle means a build without it.
    if (statSync(join(root, 'dist', 'cli', 'fast-path.js')).mtimeMs > statSync(bundle).mtimeMs) return false
    pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Pjson
  } catch {
    return false
  }
  if (fastStartRefusal(argv, process.env, pjson) !== undefined) return false
  let fastPath: FastPathModule
  try {
    fastPath = loadBundle(bundle, `${bundle}.cache`, importModule).exports as FastPathModule
  } catch {
    // A damaged bundle: nothing has run yet, so oclif can still do it all (test/e2e/pub-startup.test.ts
    // checks that the bundle loads).
    return false
  }
  return fastPath.run(argv[0], argv.slice(1), root, pjson)
}
