import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {adminClientFlags, callAdmin, listenerPath, resolveAdminTarget, watchListeners} from '../../cli/admin-client.js'
import type {ListenerRow} from '../../cli/render.js'
import {renderAuthFailures, renderAuthLine, renderListenersTable} from '../../cli/render.js'
import {renderAuthzLine} from '../../cli/render-authz.js'

export default class Listeners extends BaseCommand {
  static override summary = "Show the running broker's listeners: state, connections, messages, bytes and rejects."
  static override description = `Asks the admin API of \`mqttws serve\` (default http://127.0.0.1:18083) with the token serve wrote to its token file.
Subcommands change listeners at runtime: add, stop, start, restart, remove.`

  static override enableJsonFlag = true
  static override examples = [
    {description: 'The table', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'The API JSON (listeners and broker-wide totals)', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'Refresh every second with rates, like top', command: '<%= config.bin %> <%= command.id %> --watch'},
    {description: 'Another broker', command: '<%= config.bin %> <%= command.id %> --admin http://127.0.0.1:19083 --token s3cret-token'},
  ]

  static override flags = {
    ...adminClientFlags,
    watch: Flags.boolean({char: 'w', summary: 'Refresh every second with rates until Ctrl-C (plain lines when not a terminal).', exclusive: ['json']}),
    interval: Flags.integer({summary: 'Seconds between refreshes with --watch (default 1).', min: 1, default: 1}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Listeners)
    const target = await resolveAdminTarget(flags)
    if (flags.watch) {
      await watchListeners(target, flags.interval * 1000, (text) => process.stdout.write(text), this.untilSignal(() => this.exit(0)))
      return
    }
    const result = await callAdmin<{listeners: ListenerRow[]; totals: unknown; auth?: unknown}>(target, 'GET', listenerPath())
    this.log(renderListenersTable(result.listeners, undefined, {maxWidth: process.stdout.isTTY ? process.stdout.columns : undefined}))
    if (result.auth !== undefined) this.log(renderAuthLine(result.auth))
    const authz = result.auth === undefined ? undefined : renderAuthzLine(result.auth)
    if (authz !== undefined) this.log(authz)
    for (const line of renderAuthFailures(result.listeners)) this.log(line)
    return result
  }
}
