/**
 * oclif's command_not_found hook: say what was typed, the closest command, and where the
 * list is, instead of oclif's bare "command publish not found". No prompt: it works the
 * same in scripts and on a terminal.
 */
import type {Hook} from '@oclif/core'
import {closest} from '../cli/suggest.js'

/** Words users of other MQTT tools type for ours. */
const SYNONYMS: Record<string, string> = {
  publish: 'pub',
  subscribe: 'sub',
  broker: 'serve',
  server: 'serve',
  start: 'serve',
  run: 'serve',
  benchmark: 'bench',
  listener: 'listeners',
  passwd: 'passwd',
}

const hook: Hook<'command_not_found'> = async function (opts) {
  const bin = opts.config.bin
  const typed = opts.id.replaceAll(':', ' ')
  const ids = opts.config.commandIDs.filter((id) => !opts.config.findCommand(id)?.hidden).map((id) => id.replaceAll(':', ' '))
  const [first, ...rest] = typed.split(' ')
  const subs = ids.filter((id) => id.startsWith(`${first} `)).map((id) => id.slice(first.length + 1))
  if (ids.includes(first) && rest.length > 0) {
    // A command that exists, with a word it does not take: `listeners foo`.
    const word = rest[0]
    const guess = closest(word, subs)
    const what = subs.length > 0 ? `its subcommands are ${subs.join(', ')}` : 'it takes no subcommand'
    process.stderr.write(`Error: \`${bin} ${first}\` has no subcommand "${word}": ${what}.${guess === undefined ? '' : ` Did you mean \`${bin} ${first} ${guess}\`?`}\nSee \`${bin} ${first} --help\`.\n`)
  } else {
    const synonym = SYNONYMS[first.toLowerCase()]
    const guess = synonym !== undefined && ids.includes(synonym) ? synonym : closest(typed, ids)
    const hint = guess === undefined ? '' : ` Did you mean \`${bin} ${guess}\`?`
    process.stderr.write(`Error: "${typed}" is not a ${bin} command.${hint}\nSee \`${bin} --help\` for the commands.\n`)
  }
  process.exitCode = 2
  this.exit(2)
}

export default hook
