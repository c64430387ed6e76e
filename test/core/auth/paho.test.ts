/**
 * Paho Python (Debian's python3-paho-mqtt, an independent client) over WebSocket against the
 * authentication chain: a password-file user with MQTT 3.1.1 and 5 (a SCRAM entry checked on
 * the plain path, and a Mosquitto-format $7$ line), a wrong password refused (4 / 0x86), a JWT
 * in the upgrade's Authorization header let in, and a bad one refused at the handshake (401).
 * Skipped when /usr/bin/python3 has no paho (apt-get install python3-paho-mqtt).
 */
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {SignJWT} from 'jose'
import {editPasswordFile} from '../../../src/core/auth/password-file.js'
import {startBroker} from '../../helpers/broker.js'
import type {TestBroker} from '../../helpers/broker.js'
import {tempDir} from '../../helpers/auth.js'

const PYTHON = '/usr/bin/python3'
const SCRIPT = fileURLToPath(new URL('../../fixtures/paho-ws-client.py', import.meta.url))
const SECRET = 'a-test-secret-of-at-least-32-bytes!!'

function hasPaho(): boolean {
  return spawnSync(PYTHON, ['-c', 'import paho.mqtt.client'], {stdio: 'ignore'}).status === 0
}

/** Runs the Paho client (without blocking this process's event loop: the broker runs here). */
function paho(port: number, version: '3.1.1' | '5', user: string, password: string, bearer = ''): Promise<{connect?: number; roundtrip?: boolean; error?: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, '127.0.0.1', String(port), '/mqtt', version, user, password, bearer], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`paho exited ${code}: ${err}`))
      resolve(JSON.parse(out.trim().split('\n').pop()!) as {connect?: number; roundtrip?: boolean; error?: string})
    })
  })
}

describe('auth: Paho Python over WebSocket', function () {
  this.timeout(30000)
  let tb: TestBroker

  before(async function () {
    if (!hasPaho()) {
      console.log('    (skipped: Debian python3-paho-mqtt is not installed; apt-get install python3-paho-mqtt)')
      this.skip()
    }
    const file = join(tempDir(), 'passwd')
    await editPasswordFile(file, {op: 'set', user: 'pat', password: 'pat-pw', scram: 'sha256', iterations: 4096}, {create: true})
    await editPasswordFile(file, {op: 'set', user: 'pia', password: 'pia-pw', iterations: 1000})
    // Everyone authenticated may publish and subscribe (authorization is not what this tests).
    tb = await startBroker({auth: {authenticators: [{type: 'password-file', file}, {type: 'jwt', secret: SECRET}]}, authorization: {noMatch: 'allow'}})
  })

  after(async () => {
    await tb?.close()
  })

  it('a password-file user logs in over ws with MQTT 3.1.1 and 5 and gets its message back; a wrong password is refused', async () => {
    for (const version of ['3.1.1', '5'] as const) {
      for (const [user, pw] of [['pat', 'pat-pw'], ['pia', 'pia-pw']]) {
        const r = await paho(tb.ports.ws, version, user, pw)
        assert.deepEqual(r, {connect: 0, roundtrip: true}, `${version} ${user}`)
      }
    }
    assert.equal((await paho(tb.ports.ws, '3.1.1', 'pat', 'wrong')).connect, 4)
    assert.equal((await paho(tb.ports.ws, '5', 'pat', 'wrong')).connect, 0x86)
  })

  it('a JWT in the upgrade request: valid → in; bad signature → the handshake is refused (401)', async () => {
    const key = new TextEncoder().encode(SECRET)
    const good = await new SignJWT({}).setProtectedHeader({alg: 'HS256'}).setExpirationTime('10m').sign(key)
    assert.deepEqual(await paho(tb.ports.ws, '5', '', '', good), {connect: 0, roundtrip: true})
    const forged = await new SignJWT({}).setProtectedHeader({alg: 'HS256'}).setExpirationTime('10m').sign(new TextEncoder().encode('x'.repeat(40)))
    const token = (): number => tb.broker.listenerStatuses().find((l) => l.scheme === 'ws')!.connections.rejected.token
    const before = token()
    const r = await paho(tb.ports.ws, '5', '', '', forged)
    assert.match(r.error ?? '', /WebSocket handshake error, connection not upgraded/)
    assert.equal(token() - before, 1, 'refused at the upgrade with 401 (rejected.token)')
  })
})
