import {ListenerActionCommand} from '../../cli/listener-action-command.js'

export default class ListenersStop extends ListenerActionCommand {
  static override summary = 'Stop a listener: close its socket and disconnect its clients (MQTT 5: DISCONNECT 0x8B); other listeners are untouched.'
  protected readonly action = 'stop'
  protected readonly done = 'stopped'
}
