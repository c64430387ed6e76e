/**
 * Wills of the clients of a node that dies. A node writes the Will of every client that
 * connects with one to the JetStream key-value bucket PREFIX_wills (key: its instance and
 * the client id, base64url) and deletes it when the connection ends (the node published the
 * Will itself, or the client said DISCONNECT). When a node stops sending heartbeats (or comes
 * back as a new instance), the others sweep the bucket: each Will of an instance that is not
 * up is deleted with a compare-and-delete on its revision, so exactly one survivor wins it,
 * and the winner publishes it. A node that starts also sweeps once, after three heartbeats,
 * for Wills no live node holds. The Will Delay is not waited for: the connection is gone.
 */
import type {KV} from '@nats-io/kv'
import type {NatsConnection} from '@nats-io/transport-node'
import type {Message} from '../broker/message.js'
import type {Logger} from '../logger.js'
import {decodeEnvelope, encodeEnvelope} from './envelope.js'
import type {EnvelopeMeta} from './envelope.js'

function b64(text: string): string {
  return Buffer.from(text).toString('base64url')
}

export class ClusterWills {
  private readonly kv: KV
  private readonly instance: string
  private readonly prefix: string
  private readonly origin: Buffer
  private readonly log: Logger
  private readonly publish: (message: Message) => void
  /** Client ids whose Will this node has in the bucket. */
  private readonly held = new Set<string>()
  private sweeping: Promise<void> | undefined
  private again = false
  private closed = false
  /** Wills of dead nodes this node published. */
  published = 0

  static async open(nc: NatsConnection, prefix: string, replicas: number): Promise<KV> {
    const {Kvm} = await import('@nats-io/kv')
    return new Kvm(nc).create(`${prefix}_wills`, {history: 1, replicas})
  }

  constructor(kv: KV, instance: string, log: Logger, publish: (message: Message) => void) {
    this.kv = kv
    this.instance = instance
    this.prefix = `${b64(instance)}.`
    this.origin = Buffer.from(instance, 'latin1')
    this.log = log
    this.publish = publish
  }

  /** A client with a Will connected here. */
  hold(clientId: string, will: Message): void {
    this.held.add(clientId)
    this.kv.put(this.prefix + b64(clientId), encodeEnvelope(will, this.origin, 0, true, Date.now())).catch((error: unknown) => this.failed('keep', error))
  }

  /** The connection ended here: its Will was dealt with on this node. */
  drop(clientId: string): void {
    if (!this.held.delete(clientId)) return
    this.kv.delete(this.prefix + b64(clientId)).catch((error: unknown) => this.failed('drop', error))
  }

  private failed(what: string, error: unknown): void {
    if (!this.closed) this.log.warn(`cluster: could not ${what} a Will in the wills bucket`, {error: (error as Error).message})
  }

  /** Publishes the Wills held by instances not in `alive` (one sweep at a time; a request meanwhile runs again after it). */
  sweep(alive: ReadonlySet<string>): void {
    if (this.sweeping !== undefined) {
      this.again = true
      return
    }
    this.sweeping = this.run(alive)
      .catch((error: unknown) => this.failed('sweep', error))
      .finally(() => {
        this.sweeping = undefined
        if (this.again && !this.closed) {
          this.again = false
          this.sweep(alive)
        }
      })
  }

  private async run(alive: ReadonlySet<string>): Promise<void> {
    const keep = new Set([...alive, this.instance].map(b64))
    const keys: string[] = []
    for await (const key of await this.kv.keys()) if (!keep.has(key.slice(0, key.indexOf('.')))) keys.push(key)
    const meta: EnvelopeMeta = {origin: '', seq: 0}
    for (const key of keys) {
      if (this.closed) return
      const entry = await this.kv.get(key)
      if (entry === null || entry.operation !== 'PUT') continue
      try {
        // Exactly one survivor deletes this revision; it publishes the Will.
        await this.kv.delete(key, {previousSeq: entry.revision})
      } catch {
        continue
      }
      const will = decodeEnvelope(entry.value, undefined, meta, Date.now())
      if (will === undefined) continue
      this.published++
      this.log.info('cluster: published the Will of a client of a node that is gone', {topic: will.topic, node: meta.origin})
      this.publish(will)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    await this.sweeping
  }
}
