/**
 * SCRAM with our own client (MqttClient authMethod, as pub/sub/bench --auth-method use it):
 * SHA-256 and SHA-512 in, a wrong password refused (0x86), a server that answers without
 * the right signature refused by the client; re-authentication (AUTH 0x19) over a raw
 * socket: success keeps the client (AUTH 0x00 with the signature), a wrong proof disconnects
 * it (DISCONNECT 0x87), an AUTH with another method is a protocol error.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import {join} from 'node:path'
import mqttPacket from 'mqtt-packet'
import type {Packet} from 'mqtt-packet'
import {editPasswordFile} from '../../../src/core/auth/password-file.js'
import {ScramClient} from '../../../src/core/auth/scram-client.js'
import type {Auth, EnhancedStep} from '../../../src/core/broker/auth.js'
import {allowAll} from '../../../src/core/broker/auth.js'
import {MqttClient} from '../../../src/core/client/client.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {tempDir} from '../../helpers/auth.js'

/** A raw MQTT 5 peer: sends packets, waits for the next one the broker sends. */
async function rawPeer(port: number): Promise<{send(p: object): void; next(): Promise<Packet>; closed: Promise<void>; socket: net.Socket}> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  const parser = mqttPacket.parser({protocolVersion: 5})
  const queue: Packet[] = []
  const waiters: Array<(p: Packet) => void> = []
  parser.on('packet', (p: Packet) => {
    const w = waiters.shift()
    if (w) w(p)
    else queue.push(p)
  })
  socket.on('data', (d) => parser.parse(d))
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return {
    socket,
    closed,
    send: (p) => socket.write(mqttPacket.generate(p as Packet, {protocolVersion: 5})),
    next: () =>
      new Promise<Packet>((resolve, reject) => {
        const q = queue.shift()
        if (q) return resolve(q)
        const timer = setTimeout(() => reject(new Error('no packet within 5 s')), 5000)
        waiters.push((p) => {
          clearTimeout(timer)
          resolve(p)
        })
      }),
  }
}

describe('auth: SCRAM with our client, and re-authentication', function () {
  this.timeout(30000)
  let tb: TestBroker

  before(async () => {
    const file = join(tempDir(), 'passwd')
    await editPasswordFile(file, {op: 'set', user: 'sam', password: 'sam-pw', scram: 'sha256', iterations: 4096}, {create: true})
    await editPasswordFile(file, {op: 'set', user: 'sue', password: 'sue-pw', scram: 'sha512', iterations: 4096})
    tb = await startBroker({auth: {authenticators: [{type: 'password-file', file}]}})
  })

  after(async () => {
    await tb?.close()
  })

  it('MqttClient logs in with SCRAM-SHA-256 and SCRAM-SHA-512 over mqtt and wss, and is refused 0x86 with a wrong password', async () => {
    for (const url of [tb.urls.mqtt, tb.urls.wss]) {
      for (const [authMethod, username, password] of [['SCRAM-SHA-256', 'sam', 'sam-pw'], ['SCRAM-SHA-512', 'sue', 'sue-pw']]) {
        const c = await MqttClient.connect({url, username, password, authMethod, dial: {tls: {insecure: true}}})
        assert.equal(c.connack?.properties?.authenticationMethod, authMethod)
        assert.ok(c.handshakeMs > 0)
        await c.end()
      }
    }
    await assert.rejects(MqttClient.connect({url: tb.urls.mqtt, username: 'sam', password: 'nope', authMethod: 'SCRAM-SHA-256'}), (e: Error & {reasonCode?: number}) => e.reasonCode === 0x86)
    await assert.rejects(MqttClient.connect({url: tb.urls.mqtt, username: 'sam', password: 'x', authMethod: 'SCRAM-SHA-1'}), /not supported: use SCRAM-SHA-256 or SCRAM-SHA-512/)
    await assert.rejects(MqttClient.connect({url: tb.urls.mqtt, protocolVersion: 4, username: 'sam', password: 'x', authMethod: 'SCRAM-SHA-256'}), /use -V 5/)
  })

  it('MqttClient refuses a broker that lets it in without proving it knows the credentials (no or a wrong v=)', async () => {
    // A server-first whose nonce does not extend ours: the client stops there.
    const fake: Auth = {
      ...allowAll,
      enhanced: (method) => ({method, step: (): Promise<EnhancedStep> => Promise.resolve({done: false, data: Buffer.from('r=' + 'x'.repeat(40) + ',s=AAAA,i=4096')})}),
    }
    const other = await startBroker({}, {auth: fake})
    try {
      await assert.rejects(MqttClient.connect({url: other.urls.mqtt, username: 'sam', password: 'sam-pw', authMethod: 'SCRAM-SHA-256', connectTimeoutMs: 3000}), /nonce does not extend ours/)
    } finally {
      await other.close()
    }
    // A broker that answers with a plausible server-first but cannot sign: the CONNACK's missing or wrong v= is refused.
    for (const [final, error] of [[undefined, /sent no SCRAM signature/], [Buffer.from('v=AAAA'), /signature is wrong/]] as const) {
      const signless: Auth = {
        ...allowAll,
        enhanced: (method) => {
          let first = ''
          return {
            method,
            step: (d): Promise<EnhancedStep> => {
              if (first === '') {
                first = d!.toString()
                const nonce = /r=([^,]+)/.exec(first)![1]
                return Promise.resolve({done: false, data: Buffer.from(`r=${nonce}server,s=AAAAAAAAAAAAAAAAAAAAAA==,i=4096`)})
              }
              return Promise.resolve({done: true, result: {ok: true}, data: final})
            },
          }
        },
      }
      const b = await startBroker({}, {auth: signless})
      try {
        await assert.rejects(MqttClient.connect({url: b.urls.mqtt, username: 'sam', password: 'sam-pw', authMethod: 'SCRAM-SHA-256'}), error)
      } finally {
        await b.close()
      }
    }
  })

  /** CONNECT with SCRAM over a raw socket; returns the peer, connected. */
  async function scramRaw(password = 'sam-pw') {
    const peer = await rawPeer(tb.ports.mqtt)
    const s = new ScramClient('sha256', 'sam', Buffer.from(password))
    const method = 'SCRAM-SHA-256'
    peer.send({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: `raw-${Math.random()}`, keepalive: 30, properties: {authenticationMethod: method, authenticationData: s.first()}})
    const challenge = (await peer.next()) as Packet & {cmd: 'auth'; reasonCode: number; properties: {authenticationData: Buffer}}
    assert.equal(challenge.cmd, 'auth')
    assert.equal(challenge.reasonCode, 0x18)
    peer.send({cmd: 'auth', reasonCode: 0x18, properties: {authenticationMethod: method, authenticationData: await s.final(challenge.properties.authenticationData)}})
    const connack = (await peer.next()) as Packet & {cmd: 'connack'; reasonCode: number; properties: {authenticationData: Buffer}}
    assert.equal(connack.cmd, 'connack')
    assert.equal(connack.reasonCode, 0)
    assert.equal(s.verifyServer(connack.properties.authenticationData), undefined)
    return peer
  }

  async function reauth(peer: Awaited<ReturnType<typeof rawPeer>>, password: string): Promise<Packet> {
    const method = 'SCRAM-SHA-256'
    const s = new ScramClient('sha256', 'sam', Buffer.from(password))
    peer.send({cmd: 'auth', reasonCode: 0x19, properties: {authenticationMethod: method, authenticationData: s.first()}})
    const challenge = (await peer.next()) as Packet & {cmd: 'auth'; reasonCode: number; properties: {authenticationData: Buffer}}
    assert.equal(challenge.reasonCode, 0x18)
    peer.send({cmd: 'auth', reasonCode: 0x18, properties: {authenticationMethod: method, authenticationData: await s.final(challenge.properties.authenticationData)}})
    const last = await peer.next()
    if (last.cmd === 'auth') assert.equal(s.verifyServer(last.properties?.authenticationData), undefined)
    return last
  }

  it('re-authentication (AUTH 0x19): success answers AUTH 0x00 and the client stays; a wrong proof disconnects it with 0x87 (DISCONNECT has no 0x86)', async () => {
    const peer = await scramRaw()
    const ok = await reauth(peer, 'sam-pw')
    assert.equal(ok.cmd, 'auth')
    assert.equal((ok as {reasonCode?: number}).reasonCode ?? 0, 0)
    peer.send({cmd: 'pingreq'})
    assert.equal((await peer.next()).cmd, 'pingresp')
    const bad = await reauth(peer, 'wrong')
    assert.equal(bad.cmd, 'disconnect')
    assert.equal((bad as {reasonCode?: number}).reasonCode, 0x87)
    await peer.closed
  })

  it('a PUBLISH in the middle of the exchange closes the connection without CONNACK (MQTT-3.1.2-30)', async () => {
    const peer = await rawPeer(tb.ports.mqtt)
    const s = new ScramClient('sha256', 'sam', Buffer.from('sam-pw'))
    peer.send({cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'raw-pub', keepalive: 30, properties: {authenticationMethod: 'SCRAM-SHA-256', authenticationData: s.first()}})
    assert.equal((await peer.next()).cmd, 'auth')
    peer.send({cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: false, dup: false})
    await peer.closed
    assert.equal(tb.broker.clients.has('raw-pub'), false)
  })

  it('an AUTH with another method after a SCRAM CONNECT is a protocol error (DISCONNECT 0x82)', async () => {
    const peer = await scramRaw()
    peer.send({cmd: 'auth', reasonCode: 0x19, properties: {authenticationMethod: 'SCRAM-SHA-512', authenticationData: Buffer.from('n,,n=sam,r=abc')}})
    const d = await peer.next()
    assert.equal(d.cmd, 'disconnect')
    assert.equal((d as {reasonCode?: number}).reasonCode, 0x82)
    await peer.closed
  })
})
