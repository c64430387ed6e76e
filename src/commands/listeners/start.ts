import {ListenerActionCommand} from '../../cli/listener-action-command.js'

export default class ListenersStart extends ListenerActionCommand {
  static override summary = 'Start a stopped listener again.'
  protected readonly action = 'start'
  protected readonly done = 'started'
}
