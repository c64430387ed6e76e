/**
 * `pub` and `sub` run without oclif's start-up: no Config.load (plugin and command
 * discovery, package.json and manifest reads, theme), and none of @oclif/core that a
 * command does not use. scripts/bundle-fast-path.mjs bundles this file, with the two
 * commands and what they import, into dist/fast-path.cjs; src/cli/fast-start.ts decides
 * when bin/run.js may use it and loads it.
 *
 * What the user sees is oclif's own: the same Command class runs with a minimal config,
 * and errors go through oclif's handle(). A flag error is the exception: oclif prints it
 * with help built from the full config, so a dry run of the flag parsing declines first
 * (nothing has happened yet) and bin/run.js runs the command through oclif as usual.
 */
import type {Config} from '@oclif/core'
import {flush} from '@oclif/core/flush'
import {handle} from '@oclif/core/handle'
import mqttPacket from 'mqtt-packet'
import Pub from '../commands/pub.js'
import Sub from '../commands/sub.js'

type CommandClass = typeof Pub | typeof Sub

const COMMANDS: Readonly<Record<string, CommandClass>> = {pub: Pub, sub: Sub}

/** The fields of package.json the minimal config reads. */
export interface PackageJson {
  name: string
  version: string
  oclif: {bin?: string; dirname?: string; topicSeparator?: string}
}

/** What Command, the flag parser and handle() read from oclif's Config, with the values Config.load would give. */
export function minimalConfig(root: string, pjson: PackageJson, id: string, Cmd: CommandClass): Config {
  const bin = pjson.oclif.bin ?? pjson.name
  const envKey = (k: string): string => [bin.replaceAll('@', '').replaceAll(/[/-]/g, '_'), k].join('_').toUpperCase()
  const arch = process.arch === 'ia32' ? 'x86' : process.arch
  const config = {
    root,
    name: pjson.name,
    version: pjson.version,
    pjson,
    bin,
    dirname: pjson.oclif.dirname ?? pjson.name,
    platform: process.platform,
    arch,
    windows: false,
    userAgent: `${pjson.name}/${pjson.version} ${process.platform}-${arch} node-${process.version}`,
    topicSeparator: pjson.oclif.topicSeparator ?? ':',
    flexibleTaxonomy: false,
    isSingleCommandCLI: false,
    theme: undefined,
    // Command.init() resolves the command id from process.argv (for deprecation warnings).
    commandIDs: [id],
    findCommand: (c: string) => (c === id ? Cmd : undefined),
    scopedEnvVarKey: envKey,
    scopedEnvVarKeys: (k: string) => [envKey(k)],
    scopedEnvVar: (k: string) => process.env[envKey(k)],
    scopedEnvVarTrue: (k: string) => ['1', 'true'].includes(process.env[envKey(k)] ?? ''),
    // The fast path is only taken when package.json declares no hooks (fast-start.ts).
    runHook: async () => ({successes: [], failures: []}),
  }
  return config as unknown as Config
}

interface Runnable {
  parse(options: CommandClass): Promise<unknown>
  _run(): Promise<unknown>
  warn(input: string | Error): string | Error
}

/**
 * Runs `id` as oclif's execute() would. Resolves false, having done nothing, when the normal
 * path must run it instead; otherwise the command ran (an error exits through handle()).
 */
export async function run(id: string, argv: string[], root: string, pjson: PackageJson): Promise<boolean> {
  const Cmd = Object.hasOwn(COMMANDS, id) ? COMMANDS[id] : undefined
  // Deprecation warnings name the command as oclif's full config knows it.
  if (!Cmd || Cmd.state === 'deprecated' || Cmd.deprecateAliases) return false
  // As Plugin.findCommand sets it.
  Cmd.id = id
  const config = minimalConfig(root, pjson, id, Cmd)
  // Parsing reads only argv and the environment; the run parses again.
  const probe = new Cmd(argv, config) as unknown as Runnable
  probe.warn = (input) => input
  try {
    await probe.parse(Cmd)
  } catch {
    return false
  }
  // mqtt-packet fills a table of 65,536 two-byte Buffers on its first generate() (tens of ms,
  // and a garbage collection) to save an allocation per encoded number later. This process
  // encodes a handful of packets: it is faster without the table, and the bytes are the same.
  mqttPacket.writeToStream.cacheNumbers = false
  const command = new Cmd(argv, config) as unknown as Runnable
  // As @oclif/core's execute(): flush stdout after success, handle() prints errors and exits.
  await command
    ._run()
    .then(async (result) => {
      flush()
      return result
    })
    .catch(async (error) => handle(error))
  return true
}
