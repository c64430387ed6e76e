import {encode} from '../../protocol/codec.js'
import type {IUnsubscribePacket, Packet} from '../../protocol/codec.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import type {ClientConnection} from '../connection.js'

/** UNSUBSCRIBE → UNSUBACK; MQTT 5 reports per filter whether a subscription existed ($share/… included). */
export function handleUnsubscribe(client: ClientConnection, packet: IUnsubscribePacket): void {
  const session = client.session!
  const subscriptions = client.ctx.subscriptions
  const codes: number[] = []
  for (const filter of packet.unsubscriptions) {
    codes.push(subscriptions.remove(session, filter) ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted)
  }
  // mqtt-packet takes MQTT 5 UNSUBACK reason codes as `granted` (and ignores it for 3.1.1).
  const unsuback: Extract<Packet, {cmd: 'unsuback'}> = {cmd: 'unsuback', messageId: packet.messageId, granted: codes}
  client.ctx.flush.hold(client, encode(unsuback, client.version))
}
