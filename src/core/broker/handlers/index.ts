/** Packet dispatch: one handler file per packet type, as in Aedes. */
import type {Packet} from '../../protocol/codec.js'
import {ReasonCode} from '../../protocol/reason-codes.js'
import type {ClientConnection} from '../connection.js'
import {ConnState} from '../types.js'
import {handlePuback, handlePubcomp, handlePubrec, handlePubrel} from './ack.js'
import {handleAuth} from './auth.js'
import {handleConnect} from './connect.js'
import {handleDisconnect} from './disconnect.js'
import {handlePingreq} from './ping.js'
import {handlePublish} from './publish.js'
import {handleSubscribe} from './subscribe.js'
import {handleUnsubscribe} from './unsubscribe.js'

export function dispatch(client: ClientConnection, packet: Packet): void {
  if (packet.cmd === 'connect') {
    handleConnect(client, packet)
    return
  }
  if (client.state !== ConnState.Connected) {
    if (client.state === ConnState.Connecting) {
      // Enhanced authentication: the client's AUTH while its CONNECT's exchange waits for it; nothing else (MQTT-3.1.2-30).
      if (packet.cmd === 'auth') return handleAuth(client, packet)
      client.close(undefined, `${packet.cmd.toUpperCase()} during the authentication exchange: only AUTH may come before CONNACK (MQTT-3.1.2-30)`)
      return
    }
    // MQTT-3.1.0-1: the first packet must be CONNECT.
    client.close(undefined, `first packet was ${packet.cmd.toUpperCase()}, not CONNECT`)
    return
  }
  switch (packet.cmd) {
    case 'publish':
      return handlePublish(client, packet)
    case 'puback':
      return handlePuback(client, packet)
    case 'pubrec':
      return handlePubrec(client, packet)
    case 'pubrel':
      return handlePubrel(client, packet)
    case 'pubcomp':
      return handlePubcomp(client, packet)
    case 'subscribe':
      return handleSubscribe(client, packet)
    case 'unsubscribe':
      return handleUnsubscribe(client, packet)
    case 'pingreq':
      return handlePingreq(client)
    case 'disconnect':
      return handleDisconnect(client, packet)
    case 'auth':
      return handleAuth(client, packet)
    default:
      // CONNACK, SUBACK, UNSUBACK, PINGRESP: only a server sends these (MQTT-4.8.0-1 protocol error).
      return client.protocolViolation(ReasonCode.ProtocolError, `a client must not send ${packet.cmd.toUpperCase()}`)
  }
}
