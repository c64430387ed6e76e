import {BaseCommand} from '../../cli/base-command.js'
import {adminClientFlags, callAdmin, resolveAdminTarget} from '../../cli/admin-client.js'
import type {ClientRow} from '../../cli/render.js'
import {renderClientsTable} from '../../cli/render.js'

export default class Clients extends BaseCommand {
  static override summary = "Show the running broker's clients and offline sessions: listener, address, protocol, subscriptions, queues."
  static override description = `Asks the admin API of \`mqttws serve\` (default http://127.0.0.1:18083) with the token serve wrote to its token file.
\`mqttws clients kick ID\` disconnects one (MQTT 5: DISCONNECT 0x98, administrative action).`

  static override enableJsonFlag = true
  static override examples = [
    {description: 'The table', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'The API JSON', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'Disconnect a client', command: '<%= config.bin %> <%= command.id %> kick sensor-17'},
  ]

  static override flags = {...adminClientFlags}

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Clients)
    const target = await resolveAdminTarget(flags)
    const result = await callAdmin<{clients: ClientRow[]}>(target, 'GET', '/api/v1/clients')
    this.log(renderClientsTable(result.clients))
    return result
  }
}
