/** Bytes for the abuse-protection tests, written field by field: PROXY v2 headers and a few MQTT packets. */
import net from 'node:net'
import {varint} from './raw.js'

/** The PROXY protocol v2 signature (spec §2.2), written out here rather than imported from src. */
export const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex')

/** A PROXY v2 header: command 0 LOCAL / 1 PROXY, family byte (0x11 TCP4, 0x21 TCP6, 0x00 UNSPEC), the address block. */
export function proxyV2(command: 0 | 1, family: number, addresses: Buffer): Buffer {
  const len = Buffer.alloc(2)
  len.writeUInt16BE(addresses.length)
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20 | command, family]), len, addresses])
}

/** The v2 address block for TCP over IPv4. */
export function v2Inet(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12)
  src.split('.').forEach((o, i) => (b[i] = Number(o)))
  dst.split('.').forEach((o, i) => (b[4 + i] = Number(o)))
  b.writeUInt16BE(sport, 8)
  b.writeUInt16BE(dport, 10)
  return b
}

/** The v2 address block for TCP over IPv6 (addresses as 32 hex digits). */
export function v2Inet6(srcHex: string, dstHex: string, sport: number, dport: number): Buffer {
  const ports = Buffer.alloc(4)
  ports.writeUInt16BE(sport, 0)
  ports.writeUInt16BE(dport, 2)
  return Buffer.concat([Buffer.from(srcHex, 'hex'), Buffer.from(dstHex, 'hex'), ports])
}

function str(s: string): Buffer {
  const b = Buffer.from(s)
  const len = Buffer.alloc(2)
  len.writeUInt16BE(b.length)
  return Buffer.concat([len, b])
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), varint(body.length), body])
}

/** CONNECT, clean start, keepalive 60, MQTT 3.1.1 (4) or 5 (with an empty property block). */
export function connectPacket(version: 4 | 5, clientId: string, username?: string): Buffer {
  const flags = 0x02 | (username === undefined ? 0 : 0x80)
  const head = Buffer.concat([str('MQTT'), Buffer.from([version, flags, 0, 60]), version === 5 ? Buffer.from([0]) : Buffer.alloc(0)])
  return packet(0x10, Buffer.concat([head, str(clientId), username === undefined ? Buffer.alloc(0) : str(username)]))
}

/** PUBLISH with QoS 0/1 (a packet id for QoS 1), MQTT 3.1.1 or 5. */
export function publishPacket(version: 4 | 5, topic: string, payload: Buffer | string, qos: 0 | 1, id = 0): Buffer {
  const pid = Buffer.alloc(qos > 0 ? 2 : 0)
  if (qos > 0) pid.writeUInt16BE(id)
  const props = version === 5 ? Buffer.from([0]) : Buffer.alloc(0)
  return packet(0x30 | (qos << 1), Buffer.concat([str(topic), pid, props, Buffer.from(payload)]))
}

/** The packets in a byte stream (fixed header type nibble, body), for reading acknowledgements. */
export function splitPackets(bytes: Buffer): Array<{type: number; body: Buffer}> {
  const out: Array<{type: number; body: Buffer}> = []
  let i = 0
  while (i < bytes.length) {
    const type = bytes[i] >> 4
    let len = 0
    let mul = 1
    let j = i + 1
    for (;;) {
      const b = bytes[j++]
      len += (b & 0x7f) * mul
      mul *= 128
      if ((b & 0x80) === 0) break
    }
    if (j + len > bytes.length) break
    out.push({type, body: bytes.subarray(j, j + len)})
    i = j + len
  }
  return out
}

/** A TCP connection from a chosen loopback address (127.0.0.2 …), to look like another host. */
export function connectFrom(localAddress: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({port, host: '127.0.0.1', localAddress})
    s.once('connect', () => resolve(s))
    s.once('error', reject)
  })
}
