/**
 * mqttws's help (package.json oclif.helpClass): flag groups in the order a user reads them
 * (what to connect to and what to send before protocol details), and each default said once.
 */
import {CommandHelp, Help} from '@oclif/core'
import type {Command} from '@oclif/core'

/** Groups in this order; others after them, in their own order; GLOBAL last. */
export const GROUP_ORDER = ['TARGET', 'LOAD', 'CONNECTION', 'MESSAGE', 'SUBSCRIPTION', 'OUTPUT', 'LISTENERS', 'AUTHENTICATION', 'STORAGE', 'GATE', 'MQTT 5', 'WILL', 'TLS', 'WEBSOCKET', 'LIMITS', 'ADMIN']

function rank(group: string): number {
  if (group === 'GLOBAL') return Number.MAX_SAFE_INTEGER
  const i = GROUP_ORDER.indexOf(group)
  return i === -1 ? GROUP_ORDER.length : i
}

/** oclif prints "[default: X]" for a flag with a default: a "(default X)" in its summary would say it twice. */
export function withoutRepeatedDefault(summary: string | undefined, hasDefault: boolean): string | undefined {
  if (!hasDefault || summary === undefined) return summary
  return summary.replace(/\(default:? [^();]*; ([^()]*)\)/, '($1)').replace(/\s*\(default:? [^();]*\)/, '')
}

export class MqttwsCommandHelp extends CommandHelp {
  protected override groupFlags(flags: Array<Command.Flag.Any>): {flagGroups: {[name: string]: Array<Command.Flag.Any>}; mainFlags: Array<Command.Flag.Any>} {
    // oclif shows [default: X] only for a truthy default (not for 0).
    const cleaned = flags.map((f) => (!f.default || typeof f.default === 'function' || f.type === 'boolean' ? f : {...f, summary: withoutRepeatedDefault(f.summary, true)}))
    const {flagGroups, mainFlags} = super.groupFlags(cleaned as Array<Command.Flag.Any>)
    const ordered: {[name: string]: Array<Command.Flag.Any>} = {}
    for (const name of Object.keys(flagGroups).sort((a, b) => rank(a) - rank(b))) ordered[name] = flagGroups[name]
    return {flagGroups: ordered, mainFlags}
  }
}

export default class MqttwsHelp extends Help {
  protected override CommandHelpClass = MqttwsCommandHelp
}
