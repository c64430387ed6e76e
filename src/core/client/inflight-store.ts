import type {QoS} from '../protocol/codec.js'

/** Called once a publish is done: written (QoS 0) or acknowledged (QoS 1/2). */
export type PublishCallback = (error: Error | undefined, reasonCode: number) => void

/** An outgoing QoS 1/2 PUBLISH awaiting its acknowledgement. */
export interface InflightEntry {
  packetId: number
  qos: QoS
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel'
  encoded: Buffer
  callback: PublishCallback | undefined
}

/**
 * Where outgoing QoS 1/2 messages wait for acknowledgement. In memory; the interface
 * lets a durable store keep them across restarts later.
 */
export interface InflightStore {
  set(entry: InflightEntry): void
  get(packetId: number): InflightEntry | undefined
  delete(packetId: number): boolean
  readonly size: number
  values(): IterableIterator<InflightEntry>
}

export class MemoryInflightStore implements InflightStore {
  private readonly map = new Map<number, InflightEntry>()

  get size(): number {
    return this.map.size
  }

  set(entry: InflightEntry): void {
    this.map.set(entry.packetId, entry)
  }

  get(packetId: number): InflightEntry | undefined {
    return this.map.get(packetId)
  }

  delete(packetId: number): boolean {
    return this.map.delete(packetId)
  }

  values(): IterableIterator<InflightEntry> {
    return this.map.values()
  }
}
