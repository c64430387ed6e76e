import {encode} from '../../protocol/codec.js'
import type {IUnsubscribePacket, Packet} from '../../protocol/codec.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import type {Client} from '../client.js'

/** UNSUBSCRIBE → UNSUBACK; MQTT 5 reports per filter whether a subscription existed. */
export function handleUnsubscribe(client: Client, packet: IUnsubscribePacket): void {
  const session = client.session!
  const codes: number[] = []
  for (const filter of packet.unsubscriptions) {
    const existed = session.subscriptions.delete(filter)
    if (existed) client.broker.router.remove(filter, session)
    codes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted)
  }
  const unsuback = client.version === 5 ? {messageId: packet.messageId, reasonCodes: codes} : {messageId: packet.messageId}
  client.send(encode({cmd: 'unsuback', ...unsuback} as Packet, client.version))
}
