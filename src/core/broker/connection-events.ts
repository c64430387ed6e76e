/**
 * The stream listeners and timer callbacks of a ClientConnection: module-level functions
 * that reach their connection through a symbol on the stream (as ws does), so a connection
 * allocates no closure per packet or per timer.
 */
import type {Duplex} from 'node:stream'
import {ReasonCode} from '../protocol/reason-codes.js'
import type {ClientConnection} from './connection.js'
import {ConnState} from './types.js'

export const kConn = Symbol('connection')
export type TaggedStream = Duplex & {[kConn]: ClientConnection}

export function onCredentialsExpired(client: ClientConnection): void {
  client.credentialsExpiry = undefined
  client.close(ReasonCode.NotAuthorized, 'the credentials expired (token exp or expire_at)')
}

export function onStreamData(this: TaggedStream, chunk: Buffer): void {
  const client = this[kConn]
  if (client.state >= ConnState.Closing) return client.dropAfterClose(chunk.length)
  client.lastSeen = Date.now()
  client.decoder.write(chunk)
  client.ctx.flush.afterRead()
}

export function onStreamError(this: TaggedStream, error: Error): void {
  this[kConn].streamError = error
}

export function onStreamClose(this: TaggedStream): void {
  this[kConn].finalize()
}

/** The output buffer emptied: a congested client takes messages again (its queue first). */
export function onStreamDrain(this: TaggedStream): void {
  const client = this[kConn]
  if (!client.congested) return
  client.congested = false
  if (client.drainTimer !== undefined) clearTimeout(client.drainTimer)
  client.drainTimer = undefined
  if (client.state === ConnState.Connected && client.session !== undefined) client.ctx.delivery.drainQueue(client)
}

export function onDrainTimeout(client: ClientConnection): void {
  client.drainTimer = undefined
  if (!client.congested || client.state >= ConnState.Closing) return
  const limits = client.ctx.limits
  client.ctx.metrics.slowConsumerDisconnects++
  client.close(
    undefined,
    `slow consumer: more than ${limits.maxOutputBytes} bytes waited to be sent for ${limits.drainTimeoutMs} ms (${client.pendingOutput()} bytes buffered)`,
  )
  // What is buffered will not be read: do not wait for it to flush.
  client.stream.destroy()
}

export function onConnectTimeout(client: ClientConnection): void {
  if (client.state === ConnState.New) client.close(undefined, `no CONNECT within ${client.ctx.limits.connectTimeoutMs} ms`)
}

export function onKeepaliveTimer(client: ClientConnection): void {
  if (client.state !== ConnState.Connected) return
  const idle = Date.now() - client.lastSeen
  const limit = client.keepaliveMs * 1.5
  if (idle >= limit) {
    client.close(ReasonCode.KeepAliveTimeout, `keepalive timeout: nothing received for ${(idle / 1000).toFixed(1)} s with keepalive ${client.keepaliveMs / 1000} s`)
    return
  }
  client.timer = setTimeout(onKeepaliveTimer, limit - idle, client)
}

export function destroyStream(stream: Duplex): void {
  stream.destroy()
}
