import {encode} from '../../protocol/codec.js'
import type {IUnsubscribePacket, Packet} from '../../protocol/codec.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import type {Client} from '../client.js'

/** UNSUBSCRIBE → UNSUBACK; MQTT 5 reports per filter whether a subscription existed. */
export function handleUnsubscribe(client: Client, packet: IUnsubscribePacket): void {
  if (packet.unsubscriptions.length === 0) {
    // MQTT-3.10.3-2: an UNSUBSCRIBE must carry at least one topic filter.
    client.protocolViolation(ReasonCode.ProtocolError, 'UNSUBSCRIBE without any topic filter')
    return
  }
  const session = client.session!
  const codes: number[] = []
  for (const filter of packet.unsubscriptions) {
    const existed = session.subscriptions.delete(filter)
    if (existed) client.broker.router.remove(filter, session)
    codes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted)
  }
  // mqtt-packet takes MQTT 5 UNSUBACK reason codes as `granted` (and ignores it for 3.1.1).
  const unsuback: Extract<Packet, {cmd: 'unsuback'}> = {cmd: 'unsuback', messageId: packet.messageId, granted: codes}
  client.send(encode(unsuback, client.version))
}
