import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {adminClientFlags, callAdmin, resolveAdminTarget} from '../../cli/admin-client.js'

export default class ClientsKick extends BaseCommand {
  static override summary = 'Disconnect a client: MQTT 5 clients get DISCONNECT 0x98 (administrative action), 3.1.1 clients are closed; its Will is sent and its session kept as its expiry says.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> <%= command.id %> sensor-17']
  static override args = {id: Args.string({description: 'Client id, as `mqttws clients` shows it.', required: true})}
  static override flags = {...adminClientFlags}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ClientsKick)
    const target = await resolveAdminTarget(flags)
    const result = await callAdmin<{kicked: boolean}>(target, 'POST', `/api/v1/clients/${encodeURIComponent(args.id)}/kick`)
    this.log(`kicked client ${args.id}`)
    return result
  }
}
