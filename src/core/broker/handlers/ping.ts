import {PINGRESP} from '../../protocol/encode.js'
import type {ClientConnection} from '../connection.js'

/** MQTT-3.12.4-1: the server MUST answer PINGREQ with PINGRESP. */
export function handlePingreq(client: ClientConnection): void {
  client.send(PINGRESP)
}
