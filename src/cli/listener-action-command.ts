/**
 * What `mqttws listeners stop|start|restart|remove` share: one listener id, the admin
 * client's flags, one admin API call, and a line saying what happened (or, with --json,
 * the listener's row). Lives outside src/commands so oclif does not register it.
 */
import {Args} from '@oclif/core'
import {adminClientFlags, callAdmin, listenerPath, resolveAdminTarget} from './admin-client.js'
import {BaseCommand} from './base-command.js'
import type {ListenerRow} from './render.js'
import {renderListenerChange} from './render.js'

export abstract class ListenerActionCommand extends BaseCommand {
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> <%= command.id %> ws:8083']
  static override args = {id: Args.string({description: 'Listener id, as `mqttws listeners` shows it (e.g. ws:8083).', required: true})}
  static override flags = {...adminClientFlags}

  /** POST /listeners/ID/ACTION; `undefined` is DELETE /listeners/ID. */
  protected abstract readonly action: 'stop' | 'start' | 'restart' | undefined
  /** The past tense shown to the user: "stopped listener ws:8083 …". */
  protected abstract readonly done: string

  async run(): Promise<unknown> {
    // This class, not this.ctor: parse() spreads the class's own statics, and args is
    // declared here, not on the subclass.
    const {args, flags} = await this.parse(ListenerActionCommand)
    const target = await resolveAdminTarget(flags)
    const method = this.action === undefined ? 'DELETE' : 'POST'
    const result = await callAdmin<ListenerRow>(target, method, listenerPath(args.id, this.action))
    this.log(renderListenerChange(this.done, result))
    return result
  }
}
