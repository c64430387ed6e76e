import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {adminClientFlags, callAdmin, resolveAdminTarget} from '../../cli/admin-client.js'
import {parseDuration, renderBanLine} from '../../cli/render-bans.js'
import {ConfigError} from '../../core/errors.js'
import type {BanInfo} from '../../core/guard/bans.js'

export default class BannedAdd extends BaseCommand {
  static override summary = 'Ban a client id, user name or address network; the connected clients it covers are disconnected (MQTT 5: DISCONNECT 0x98, administrative action).'
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> <%= command.id %> --client-id sensor-17 --duration 1h',
    '<%= config.bin %> <%= command.id %> --username "^guest-.*" --regex --reason "no guests"',
    '<%= config.bin %> <%= command.id %> --address 2001:db8::/32 --until 2030-01-01T00:00:00Z',
  ]

  static override flags = {
    'client-id': Flags.string({summary: 'The client id to ban (with --regex: a regular expression matching whole ids).', exactlyOne: ['client-id', 'username', 'address']}),
    username: Flags.string({summary: 'The user name to ban (with --regex: a regular expression matching whole names).', exactlyOne: ['client-id', 'username', 'address']}),
    address: Flags.string({summary: 'The IP address or network (CIDR) to ban, IPv4 or IPv6, e.g. 203.0.113.0/24.', exactlyOne: ['client-id', 'username', 'address']}),
    regex: Flags.boolean({summary: '--client-id or --username is a regular expression.'}),
    duration: Flags.string({summary: 'How long: seconds, or 90s, 5m, 2h, 7d (default: until removed).', exclusive: ['until']}),
    until: Flags.string({summary: 'When it ends, an ISO 8601 date such as 2030-01-31T12:00:00Z (default: until removed).'}),
    reason: Flags.string({summary: 'Why (shown in the list and sent to the client as the reason string).'}),
    ...adminClientFlags,
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(BannedAdd)
    const body: Record<string, unknown> = {}
    if (flags['client-id'] !== undefined) body.clientId = flags['client-id']
    if (flags.username !== undefined) body.username = flags.username
    if (flags.address !== undefined) body.address = flags.address
    if (flags.regex) body.regex = true
    if (flags.duration !== undefined) {
      const seconds = parseDuration(flags.duration)
      if (seconds === undefined) throw new ConfigError(`--duration "${flags.duration}" is not a duration: give seconds, or a number with s, m, h or d (e.g. 5m)`)
      body.duration = seconds
    }
    if (flags.until !== undefined) body.until = flags.until
    if (flags.reason !== undefined) body.reason = flags.reason
    const target = await resolveAdminTarget(flags)
    const result = await callAdmin<{ban: BanInfo; disconnected: number}>(target, 'POST', '/api/v1/banned', body)
    this.log(renderBanLine('banned', result.ban, result.disconnected))
    return result
  }
}
