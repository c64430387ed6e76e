import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {adminClientFlags, callAdmin, resolveAdminTarget} from '../../cli/admin-client.js'
import {renderBanLine} from '../../cli/render-bans.js'
import type {BanInfo} from '../../core/guard/bans.js'

export default class BannedRemove extends BaseCommand {
  static override summary = 'Lift a ban: its kind (clientId, username or address) and its value as `mqttws banned` lists it.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> <%= command.id %> clientId sensor-17', '<%= config.bin %> <%= command.id %> address 203.0.113.0/24']
  static override args = {
    kind: Args.string({description: 'clientId, username or address.', required: true, options: ['clientId', 'username', 'address']}),
    value: Args.string({description: 'The banned value, as listed.', required: true}),
  }

  static override flags = {...adminClientFlags}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(BannedRemove)
    const target = await resolveAdminTarget(flags)
    const result = await callAdmin<{removed: BanInfo}>(target, 'DELETE', `/api/v1/banned/${encodeURIComponent(args.kind)}/${encodeURIComponent(args.value)}`)
    this.log(renderBanLine('lifted the ban on', result.removed))
    return result
  }
}
