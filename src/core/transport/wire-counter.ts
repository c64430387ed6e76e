/**
 * Counts the bytes a TLS connection really puts on the wire. TLS over a net.Socket
 * bypasses the socket's JavaScript counters (the TLS layer talks to the TCP handle
 * directly), so bytesWritten there shows plaintext. Running TLS over this Duplex instead
 * makes every encrypted byte pass through here. Used by bench, where the bytes matter
 * more than the small cost of the extra stream.
 */
import {Duplex} from 'node:stream'
import type {Socket} from 'node:net'

export interface WireCounter {
  readonly bytesRead: number
  readonly bytesWritten: number
}

export class CountingStream extends Duplex implements WireCounter {
  bytesRead = 0
  bytesWritten = 0

  constructor(readonly inner: Socket) {
    super({allowHalfOpen: false})
    inner.on('data', (chunk: Buffer) => {
      this.bytesRead += chunk.length
      if (!this.push(chunk)) inner.pause()
    })
    inner.on('end', () => this.push(null))
    inner.on('error', (error) => this.destroy(error))
    inner.on('close', () => {
      if (!this.destroyed) this.destroy()
    })
  }

  override _read(): void {
    this.inner.resume()
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytesWritten += chunk.length
    this.inner.write(chunk, callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end(callback)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy()
    callback(error)
  }
}
