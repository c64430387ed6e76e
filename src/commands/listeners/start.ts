import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {adminClientFlags, callAdmin, listenerPath, resolveAdminTarget} from '../../cli/admin-client.js'
import type {ListenerRow} from '../../cli/render.js'
import {renderListenerChange} from '../../cli/render.js'

export default class ListenersStart extends BaseCommand {
  static override summary = 'Start a stopped listener again.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> <%= command.id %> ws:8083']
  static override args = {id: Args.string({description: 'Listener id, as `mqttws listeners` shows it (e.g. ws:8083).', required: true})}
  static override flags = {...adminClientFlags}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ListenersStart)
    const target = await resolveAdminTarget(flags)
    const result = await callAdmin<ListenerRow>(target, 'POST', listenerPath(args.id, 'start'))
    this.log(renderListenerChange('started', result))
    return result
  }
}
