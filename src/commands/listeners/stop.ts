import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {adminClientFlags, callAdmin, listenerPath, resolveAdminTarget} from '../../cli/admin-client.js'
import type {ListenerRow} from '../../cli/render.js'
import {renderListenerChange} from '../../cli/render.js'

export default class ListenersStop extends BaseCommand {
  static override summary = 'Stop a listener: close its socket and disconnect its clients (MQTT 5: DISCONNECT 0x8B); other listeners are untouched.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> <%= command.id %> ws:8083']
  static override args = {id: Args.string({description: 'Listener id, as `mqttws listeners` shows it (e.g. ws:8083).', required: true})}
  static override flags = {...adminClientFlags}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ListenersStop)
    const target = await resolveAdminTarget(flags)
    const result = await callAdmin<ListenerRow>(target, 'POST', listenerPath(args.id, 'stop'))
    this.log(renderListenerChange('stopped', result))
    return result
  }
}
