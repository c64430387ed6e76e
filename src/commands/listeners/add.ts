import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {adminClientFlags, buildAddBody, callAdmin, listenerPath, resolveAdminTarget} from '../../cli/admin-client.js'
import type {ListenerRow} from '../../cli/render.js'
import {renderListenerChange} from '../../cli/render.js'

export default class ListenersAdd extends BaseCommand {
  static override summary = 'Add a listener to the running broker and start it.'
  static override description = 'URL: mqtt://HOST:PORT, mqtts://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH (port 0 picks a free one). TLS listeners use the certificate serve was started with, or --tls-cert/--tls-key.'
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> <%= command.id %> ws://127.0.0.1:9001/mqtt',
    '<%= config.bin %> <%= command.id %> mqtt://0.0.0.0:1884 --id lan',
    '<%= config.bin %> <%= command.id %> wss://127.0.0.1:9443/mqtt --tls-cert cert.pem --tls-key key.pem',
    '<%= config.bin %> <%= command.id %> ws://127.0.0.1:9002/ws --ws-piggyback --ws-allow-no-subprotocol --stopped',
  ]

  static override args = {url: Args.string({description: 'Listener URL.', required: true})}
  static override flags = {
    ...adminClientFlags,
    id: Flags.string({summary: 'Listener id (default SCHEME:PORT).'}),
    'tls-cert': Flags.string({summary: 'PEM certificate for mqtts:// and wss://.', dependsOn: ['tls-key']}),
    'tls-key': Flags.string({summary: 'PEM private key of --tls-cert.', dependsOn: ['tls-cert']}),
    'tls-ca': Flags.string({summary: 'PEM CA bundle sent with the chain.'}),
    'ws-path': Flags.string({summary: 'WebSocket path (default: the URL path, else /mqtt).'}),
    'ws-subprotocols': Flags.string({summary: 'Accepted subprotocols, comma-separated.'}),
    'ws-allow-no-subprotocol': Flags.boolean({summary: 'Accept WebSocket clients that offer no subprotocol.', allowNo: true}),
    'ws-piggyback': Flags.boolean({summary: 'All packets of one event-loop turn in one frame.', allowNo: true}),
    'ws-origins': Flags.string({summary: 'Allowed Origin values, comma-separated (others get 403).'}),
    stopped: Flags.boolean({summary: 'Add it without starting it.'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ListenersAdd)
    const target = await resolveAdminTarget(flags)
    const result = await callAdmin<ListenerRow>(target, 'POST', listenerPath(), await buildAddBody(args.url, flags))
    this.log(renderListenerChange('added', result))
    return result
  }
}
