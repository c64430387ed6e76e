import {PINGRESP} from '../../protocol/encode.js'
import type {Client} from '../client.js'

/** MQTT-3.12.4-1: the server MUST answer PINGREQ with PINGRESP. */
export function handlePingreq(client: Client): void {
  client.send(PINGRESP)
}
