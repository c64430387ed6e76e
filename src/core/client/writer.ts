/**
 * The client's writes: each encoded packet goes to the stream at once, corked on the first
 * write of an event-loop turn and flushed at its end, so a burst of packets leaves in one
 * socket write (one batch of frames on WebSocket). Traced when the client was given a trace.
 */
import type {Duplex} from 'node:stream'
import type {ProtocolVersion} from '../protocol/codec.js'
import {describeOutgoing} from './trace.js'

function flush(writer: PacketWriter): void {
  writer.corked = false
  writer.stream.uncork()
}

export class PacketWriter {
  corked = false
  /** Set by every packet sent; the keepalive clears it at each tick. */
  sentSinceTick = false

  constructor(
    readonly stream: Duplex,
    private readonly version: ProtocolVersion,
    private readonly trace: ((line: string) => void) | undefined,
  ) {}

  /** Writes one encoded packet; nothing once the stream is destroyed or ended. */
  send(buf: Buffer): void {
    if (this.stream.destroyed || this.stream.writableEnded) return
    if (this.trace !== undefined) this.trace(describeOutgoing(buf, this.version))
    if (!this.corked) {
      this.corked = true
      this.stream.cork()
      setImmediate(flush, this)
    }
    this.sentSinceTick = true
    this.stream.write(buf)
  }
}
