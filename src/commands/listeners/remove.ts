import {ListenerActionCommand} from '../../cli/listener-action-command.js'

export default class ListenersRemove extends ListenerActionCommand {
  static override summary = 'Stop a listener and remove it from the broker.'
  protected readonly action = undefined
  protected readonly done = 'removed'
}
