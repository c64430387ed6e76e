/** Authentication tests: connect MQTT.js and read the CONNACK code, password files from Debian's mosquitto_passwd. */
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import mqtt from 'mqtt'
import {testClientOptions} from './mqttjs.js'
import selfsigned from 'selfsigned'
import type {IClientOptions, MqttClient} from 'mqtt'

export const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd'

export function hasMosquittoPasswd(): boolean {
  return existsSync(MOSQUITTO_PASSWD)
}

/** Runs Debian's mosquitto_passwd (ARGS as for `mosquitto_passwd`). */
export function mosquittoPasswd(...args: string[]): void {
  execFileSync(MOSQUITTO_PASSWD, args, {stdio: 'ignore'})
}

export function tempDir(prefix = 'mqttws-auth-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export interface Outcome {
  /** 0: connected; otherwise the CONNACK return code (3.1.1) or reason code (5). */
  code: number
  client?: MqttClient
}

/** Connects MQTT.js and resolves with the CONNACK code; a connected client is returned open (end it). */
export async function tryConnect(url: string, options: IClientOptions = {}): Promise<Outcome> {
  const client = mqtt.connect(url, await testClientOptions(url, options))
  return new Promise<Outcome>((resolve, reject) => {
    client.once('connect', () => resolve({code: 0, client}))
    client.once('error', (error: Error & {code?: number}) => {
      client.end(true)
      if (typeof error.code === 'number') resolve({code: error.code})
      else reject(error)
    })
    client.once('close', () => {
      // Closed without CONNACK (3.1.1 has no code for some refusals).
      setTimeout(() => resolve({code: -1}), 50)
    })
  })
}

/** The code a connection attempt ends with (the client is closed). */
export async function connectCode(url: string, options: IClientOptions = {}): Promise<number> {
  const o = await tryConnect(url, options)
  o.client?.end(true)
  return o.code
}

export interface Pem {
  cert: string
  key: string
}

const DAY = 86_400_000

/** A CA for client certificates (mTLS tests). */
export async function makeCa(cn: string): Promise<Pem> {
  const now = Date.now()
  const p = await selfsigned.generate([{name: 'commonName', value: cn}], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + DAY),
    extensions: [
      {name: 'basicConstraints', cA: true},
      {name: 'keyUsage', keyCertSign: true, digitalSignature: true},
    ],
  })
  return {cert: p.cert, key: p.private}
}

/** A client certificate with common name `cn`, signed by `ca`. */
export async function makeClientCert(cn: string, ca: Pem): Promise<Pem> {
  const now = Date.now()
  const p = await selfsigned.generate([{name: 'commonName', value: cn}], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + DAY),
    ca,
    extensions: [
      {name: 'basicConstraints', cA: false},
      {name: 'keyUsage', digitalSignature: true},
      {name: 'extKeyUsage', clientAuth: true},
    ],
  })
  return {cert: p.cert, key: p.private}
}
