/** The smallest number of bytes one MQTT packet can take on the wire, per transport. */
import type {BenchTransport} from './plan.js'

/** RFC 6455 §5.2: 2 header bytes, +2 past 125 bytes of payload, +8 past 65535. */
export function wsHeaderBytes(payload: number): number {
  return payload < 126 ? 2 : payload < 65536 ? 4 : 10
}

/** TLS 1.3 record: 5-byte header + 1 content-type byte + 16-byte AEAD tag. */
export const TLS13_RECORD_OVERHEAD = 22

export function minimumWireBytes(transport: BenchTransport, mqttBytes: number): {clientToBroker: number; brokerToClient: number; note: string} {
  const ws = wsHeaderBytes(mqttBytes)
  switch (transport) {
    case 'tcp':
      return {clientToBroker: mqttBytes, brokerToClient: mqttBytes, note: 'MQTT packet only'}
    // A TLS record can carry many packets, so its 22 bytes are shared: the floor is the packet itself.
    case 'tls':
      return {clientToBroker: mqttBytes, brokerToClient: mqttBytes, note: `+${TLS13_RECORD_OVERHEAD} per TLS 1.3 record, shared by the packets in it`}
    case 'ws':
      return {clientToBroker: mqttBytes + ws + 4, brokerToClient: mqttBytes + ws, note: `+${ws} frame header, +4 mask client→broker`}
    case 'wss':
      return {
        clientToBroker: mqttBytes + ws + 4,
        brokerToClient: mqttBytes + ws,
        note: `+${ws} frame header, +4 mask client→broker, +${TLS13_RECORD_OVERHEAD} per TLS record shared by the frames in it`,
      }
  }
}
