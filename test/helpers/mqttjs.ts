import mqtt from 'mqtt'
import type {IClientOptions, IConnackPacket, MqttClient} from 'mqtt'
import {testCertificate} from './certs.js'

/** MQTT.js options for a test: no reconnect, a 5 s connect timeout, and the test CA for mqtts:// and wss://. */
export async function testClientOptions(url: string, options: IClientOptions = {}): Promise<IClientOptions> {
  const cert = await testCertificate()
  return {reconnectPeriod: 0, connectTimeout: 5000, ca: url.startsWith('mqtts:') || url.startsWith('wss:') ? cert.cert : undefined, ...options}
}

/** Connects MQTT.js (an independent client) and resolves once CONNACK arrives; rejects on error. */
export async function connectMqttJs(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, await testClientOptions(url, options))
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      client.end(true)
      reject(error)
    }
    client.once('connect', () => {
      client.off('error', onError)
      resolve()
    })
    client.once('error', onError)
  })
  return client
}

/** MQTT 5 options of a persistent session: no clean start, the session kept `expiry` seconds. */
export function persistentSession(clientId: string, expiry = 300): IClientOptions {
  return {clientId, clean: false, protocolVersion: 5, properties: {sessionExpiryInterval: expiry}}
}

/** A client connected by connectCollecting, with what it received since before its CONNACK. */
export interface CollectingClient {
  client: MqttClient
  connack: IConnackPacket
  /** Every message, in order. */
  got: Array<{topic: string; payload: string; qos: number}>
  /** The payloads of `got`, as text. */
  payloads: string[]
  /** The DUP flag of each PUBLISH received. */
  dups: boolean[]
}

/**
 * Connects MQTT.js and resolves at its CONNACK; the message handlers are in place before it (a
 * resumed session's queue follows the CONNACK at once). The client goes into `clients` at
 * once, for the test to end it.
 */
export async function connectCollecting(url: string, options: IClientOptions, clients: MqttClient[]): Promise<CollectingClient> {
  const client = mqtt.connect(url, await testClientOptions(url, options))
  clients.push(client)
  const got: CollectingClient['got'] = []
  const payloads: string[] = []
  const dups: boolean[] = []
  client.on('message', (topic, payload, packet) => {
    got.push({topic, payload: payload.toString(), qos: packet.qos})
    payloads.push(payload.toString())
  })
  client.on('packetreceive', (p) => p.cmd === 'publish' && dups.push(p.dup))
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  return {client, connack, got, payloads, dups}
}

/** Resolves with the next `n` messages a client receives. */
export function nextMessages(client: MqttClient, n: number, timeoutMs = 5000): Promise<Array<{topic: string; payload: Buffer; packet: mqtt.IPublishPacket}>> {
  return new Promise((resolve, reject) => {
    const got: Array<{topic: string; payload: Buffer; packet: mqtt.IPublishPacket}> = []
    const timer = setTimeout(() => {
      client.off('message', onMessage)
      reject(new Error(`expected ${n} messages, got ${got.length} within ${timeoutMs} ms`))
    }, timeoutMs)
    const onMessage = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket): void => {
      got.push({topic, payload, packet})
      if (got.length === n) {
        clearTimeout(timer)
        client.off('message', onMessage)
        resolve(got)
      }
    }
    client.on('message', onMessage)
  })
}

/** The topics a client receives within `ms` (to show that something did not arrive, next to a control that did). */
export async function topicsWithin(client: MqttClient, ms: number): Promise<string[]> {
  const topics: string[] = []
  const on = (topic: string): void => {
    topics.push(topic)
  }
  client.on('message', on)
  await delay(ms)
  client.off('message', on)
  return topics
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
