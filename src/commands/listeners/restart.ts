import {ListenerActionCommand} from '../../cli/listener-action-command.js'

export default class ListenersRestart extends ListenerActionCommand {
  static override summary = 'Stop and start a listener (its clients are disconnected and may reconnect).'
  protected readonly action = 'restart'
  protected readonly done = 'restarted'
}
