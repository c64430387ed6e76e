/**
 * A message as stored: its MQTT 5 PUBLISH encoding (topic, payload, QoS, retain and every
 * property, in the codec the broker already trusts), read back with mqtt-packet. A
 * message that goes to many stored sessions is encoded once (remembered per message).
 */
import mqttPacket from 'mqtt-packet'
import type {IPublishPacket} from 'mqtt-packet'
import {encodePublish} from '../protocol/encode.js'
import type {Message} from '../broker/message.js'

const encoded = new WeakMap<Message, Buffer>()

export function messageToBlob(message: Message): Buffer {
  let blob = encoded.get(message)
  if (blob === undefined) {
    blob = encodePublish(5, message.topic, message.payload as Buffer, message.qos, message.retain, false, message.qos > 0 ? 1 : 0, message.properties)
    encoded.set(message, blob)
  }
  return blob
}

export function messageFromBlob(blob: Buffer, expiresAt: number | null): Message {
  let out: IPublishPacket | undefined
  const parser = mqttPacket.parser({protocolVersion: 5})
  parser.on('packet', (p) => {
    out = p as IPublishPacket
  })
  parser.on('error', (error: Error) => {
    throw error
  })
  parser.parse(blob)
  if (out === undefined || out.cmd !== 'publish') throw new Error('a stored message is not a PUBLISH packet')
  const message: Message = {cmd: 'publish', topic: out.topic, payload: Buffer.from(out.payload as Buffer), qos: out.qos, retain: out.retain, dup: false}
  const props = out.properties
  if (props !== undefined && Object.keys(props).length > 0) {
    // mqtt-packet makes user properties without a prototype; give back what was stored.
    if (props.userProperties !== undefined) props.userProperties = {...props.userProperties}
    message.properties = props
  }
  if (expiresAt !== null) message.expiresAt = expiresAt
  return message
}
