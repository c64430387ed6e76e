#!/usr/bin/env node
/**
 * The quick start of `pub` and `sub` (src/cli/fast-start.ts), built after tsc in `npm run build`:
 *   - dist/fast-start.cjs: dist/cli/fast-start.js as CommonJS, which bin/run.js requires;
 *   - dist/fast-path.cjs: dist/cli/fast-path.js with everything it imports, in one file;
 *   - dist/fast-path.cjs.cache: the V8 code cache of that file, made by running pub and sub
 *     once against a broker on 127.0.0.1, so that it holds the code they run.
 *
 * One file instead of ~400 modules saves their resolution and loading. Beyond that, the
 * bundle leaves out or defers what pub and sub do not use, each without changing behaviour:
 *   - '@oclif/core' (the index loads all of oclif) → Command, Errors and Flags from their own modules;
 *   - oclif's Config, in command.js (only its static run() loads one; fast-path.ts builds the instance);
 *   - oclif's Help, in errors/handle.js and flags.js (help for a flag error, or a help flag:
 *     fast-path.ts leaves flag errors to the normal path, and pub and sub have no help flag);
 *   - ejs, in help/util.js (renders help templates only);
 *   - node:readline in oclif's parser (reads stdin for arguments that allow it: pub and sub have none);
 *   - node:tls in dial-socket.js, loaded on the first mqtts:// dial (ws and the other transports
 *     are behind transports.ts's import(), which the bundle keeps lazy);
 *   - bl in mqtt-packet's parser → its BufferList (the parser uses no stream method), so
 *     readable-stream is left out.
 * A stub that is reached anyway throws, naming itself.
 */
import {spawnSync} from 'node:child_process'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {build} from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')
const outfile = join(dist, 'fast-path.cjs')
const cacheFile = `${outfile}.cache`
const oclifLib = 'node_modules/@oclif/core/lib'

const stub = (name) => `throw new Error('${name} is not in the pub/sub quick start (scripts/bundle-fast-path.mjs)')`

/** [importer (the end of its path, or '*'), specifier, replacement module source] */
const REPLACEMENTS = [
  [
    '*',
    '@oclif/core',
    `export {Command} from '@oclif/core/command'
     export * as Errors from '@oclif/core/errors'
     export * as Flags from '@oclif/core/flags'`,
  ],
  [`${oclifLib}/command.js`, './config', `exports.Config = {load() { ${stub('Config.load')} }}`],
  [`${oclifLib}/errors/handle.js`, '../help/index', `exports.Help = class Help { constructor() { ${stub('Help')} } }`],
  [`${oclifLib}/flags.js`, './help', `exports.loadHelpClass = async () => { ${stub('loadHelpClass')} }`],
  [`${oclifLib}/help/util.js`, 'ejs', `exports.render = () => { ${stub('ejs')} }`],
  [`${oclifLib}/parser/parse.js`, 'node:readline', `exports.createInterface = (...args) => require('node:readline').createInterface(...args)`],
  ['dist/core/transport/dial-socket.js', 'node:tls', `let tls\nexport default {connect: (...args) => (tls ??= require('node:tls')).connect(...args)}`],
  ['node_modules/mqtt-packet/parser.js', 'bl', `module.exports = require('bl/BufferList.js')`],
]

// The lazy node:tls stands in for what dial-socket.js uses of it: `tls.connect(...)`.
const dialSocket = readFileSync(join(dist, 'core/transport/dial-socket.js'), 'utf8')
const tlsUses = [...dialSocket.matchAll(/\btls\.(\w+)/g)].filter((m) => m[1] !== 'connect').map((m) => m[0])
if (tlsUses.length > 0) throw new Error(`bundle-fast-path: dial-socket.js uses ${tlsUses.join(', ')}: extend its node:tls replacement`)

const replaced = new Set()
const replacements = {
  name: 'fast-path-replacements',
  setup(b) {
    b.onResolve({filter: /.*/}, (args) => {
      if (args.kind === 'entry-point' || !args.importer || args.namespace !== 'file') return undefined
      const importer = args.importer.replaceAll('\\', '/')
      const index = REPLACEMENTS.findIndex(([from, spec]) => spec === args.path && (from === '*' || importer.endsWith(`/${from}`)))
      if (index === -1) return undefined
      replaced.add(index)
      return {path: String(index), namespace: 'fast-path-replacement', pluginData: {resolveDir: dirname(args.importer)}}
    })
    b.onLoad({filter: /.*/, namespace: 'fast-path-replacement'}, (args) => ({
      contents: REPLACEMENTS[Number(args.path)][2],
      resolveDir: args.pluginData.resolveDir,
      loader: 'js',
    }))
  },
}

const common = {bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', legalComments: 'none'}

// The gate: node:* imports only.
await build({...common, entryPoints: [join(dist, 'cli/fast-start.js')], outfile: join(dist, 'fast-start.cjs')})

const result = await build({
  ...common,
  entryPoints: [join(dist, 'cli/fast-path.js')],
  outfile,
  minifyWhitespace: true,
  minifySyntax: true,
  // Loaded when needed, as usual: inquirer (prompts), ws's optional native add-ons, and
  // typescript (oclif's ts-node support, unused by a built CLI).
  external: ['inquirer', 'bufferutil', 'utf-8-validate', 'typescript'],
  plugins: [replacements],
  metafile: true,
})
const unused = REPLACEMENTS.filter((_, i) => !replaced.has(i)).map(([from, spec]) => `${spec} in ${from}`)
if (unused.length > 0) throw new Error(`bundle-fast-path: replacements that matched nothing (did a dependency change?): ${unused.join(', ')}`)
if (process.env.FAST_PATH_METAFILE) writeFileSync(process.env.FAST_PATH_METAFILE, JSON.stringify(result.metafile))

// The bundle runs in a vm.Script (for its code cache), whose code cannot call import():
// fast-start.ts passes bin/run.js's import() as __import.
// Every import() in the text must be one esbuild reports (not text in a string, say).
let source = readFileSync(outfile, 'utf8')
const dynamicImports = Object.values(result.metafile.outputs)[0].imports.filter((i) => i.kind === 'dynamic-import')
const found = [...source.matchAll(/\bimport\(("[^"]*")\)/g)].map((m) => JSON.parse(m[1]))
if ((source.match(/\bimport\(/g)?.length ?? 0) !== found.length || found.sort().join() !== dynamicImports.map((i) => i.path).sort().join()) {
  throw new Error(`bundle-fast-path: cannot redirect the import() calls: found ${found.join(', ')}; esbuild reports ${dynamicImports.map((i) => i.path).join(', ')}`)
}
source = source.replaceAll(/\bimport\((?=")/g, '__import(')
writeFileSync(outfile, source)

/**
 * The code cache. V8 caches the functions compiled so far, so the cache is written after
 * pub (QoS 0 and 1) and sub have run once. It is made by a plain `node`, as bin/run.js runs
 * (V8 rejects a cache made under other flags), and without MQTTWS_* settings from the
 * environment. Whatever happens, the cache is written at exit; a failed run is reported, but
 * does not fail the build (the cache then holds less).
 */
const warmUp = `
  import {readFileSync, writeFileSync} from 'node:fs'
  import {loadBundle} from ${JSON.stringify(join(dist, 'cli/fast-start.js'))}
  import {Broker, resolveConfig} from ${JSON.stringify(join(dist, 'index.js'))}
  const {exports, script} = loadBundle(${JSON.stringify(outfile)}, undefined, (s) => import(s))
  process.on('exit', () => writeFileSync(${JSON.stringify(cacheFile)}, script.createCachedData()))
  setTimeout(() => {
    console.error('bundle-fast-path: the warm-up run did not finish in 20 s: the code cache holds what ran')
    process.exit(0)
  }, 20000).unref()
  const broker = new Broker(resolveConfig({listeners: ['mqtt://127.0.0.1:0']}))
  const [{port}] = await broker.listen()
  const pjson = JSON.parse(readFileSync(${JSON.stringify(join(root, 'package.json'))}, 'utf8'))
  const at = ['-h', '127.0.0.1', '-p', String(port)]
  const run = async (argv) => {
    if (!(await exports.run(argv[0], argv.slice(1), ${JSON.stringify(root)}, pjson))) throw new Error('declined: ' + argv.join(' '))
  }
  await run(['pub', ...at, '-t', 'mqttws/warm-up', '-m', 'x'])
  await run(['pub', ...at, '-t', 'mqttws/warm-up', '-m', 'x', '-q', '1', '-r'])
  await run(['sub', ...at, '-t', 'mqttws/warm-up', '-C', '1'])
  await broker.close()
`
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQTTWS_') && k !== 'DEBUG'))
const warm = spawnSync(process.execPath, ['--input-type=module', '-e', warmUp], {stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8'})
if (warm.status !== 0) console.error(`bundle-fast-path: warning: the warm-up run exited with ${warm.status}:\n${warm.stderr}`)

const inputs = Object.keys(result.metafile.inputs).length
const kb = (f) => `${Math.round(statSync(f).size / 1024)} kB`
console.log(`bundled ${inputs} modules into ${relative(root, outfile)} (${kb(outfile)}, code cache ${kb(cacheFile)})`)
