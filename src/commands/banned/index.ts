import {BaseCommand} from '../../cli/base-command.js'
import {adminClientFlags, callAdmin, resolveAdminTarget} from '../../cli/admin-client.js'
import {renderBansTable} from '../../cli/render-bans.js'
import type {BanInfo} from '../../core/guard/bans.js'

export default class Banned extends BaseCommand {
  static override summary = "Show the running broker's bans: client ids, user names (exact or regular expressions) and address networks."
  static override description = `Asks the admin API of \`mqttws serve\` (default http://127.0.0.1:18083) with the token serve wrote to its token file.
A banned client is refused at CONNECT before authentication: MQTT 5 CONNACK 0x8A (Banned), 3.1/3.1.1 return code 5.
\`mqttws banned add\` adds one (and disconnects the connected clients it covers), \`mqttws banned remove\` lifts one.`

  static override enableJsonFlag = true
  static override examples = [
    {description: 'The table', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Ban a client id for an hour', command: '<%= config.bin %> <%= command.id %> add --client-id sensor-17 --duration 1h --reason "floods"'},
    {description: 'Ban a network', command: '<%= config.bin %> <%= command.id %> add --address 203.0.113.0/24'},
    {description: 'Lift a ban', command: '<%= config.bin %> <%= command.id %> remove clientId sensor-17'},
  ]

  static override flags = {...adminClientFlags}

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Banned)
    const target = await resolveAdminTarget(flags)
    const result = await callAdmin<{banned: BanInfo[]}>(target, 'GET', '/api/v1/banned')
    this.log(renderBansTable(result.banned))
    return result
  }
}
