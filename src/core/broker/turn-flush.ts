/**
 * Once per event-loop turn: the commit point and the write batching. What the handlers of
 * one turn stored (session and retained stores) is committed in one go, and the packets
 * written to each connection in that turn leave in one write (connection.ts flush()).
 *
 * QoS 1/2 acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP) go through ack(): with a durable store
 * they are held until the commit of their turn has resolved, so nothing is acknowledged
 * that is not stored; commits run one after another, so acknowledgements keep their order.
 * If a commit fails, its acknowledgements are refused (MQTT 5: reason 0x80; MQTT 3.1.1,
 * which has no negative acknowledgement: the connection is closed) and the error is
 * reported once. With the memory stores (not durable) ack() sends at once: nothing waits.
 */
import {PacketType, encodeAck} from '../protocol/encode.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import {StoreError} from '../errors.js'
import type {ClientConnection} from './connection.js'
import type {RetainedStore} from './retained-store.js'
import type {SessionStore} from './session-store.js'

type AckType = typeof PacketType.PUBACK | typeof PacketType.PUBREC | typeof PacketType.PUBREL | typeof PacketType.PUBCOMP

interface HeldAck {
  conn: ClientConnection
  type: AckType
  id: number
  reasonCode: number
}

function runFlush(f: TurnFlush): void {
  f.run()
}

export class TurnFlush {
  private readonly dirty: ClientConnection[] = []
  private scheduled = false
  private readonly sessions: SessionStore
  private readonly retained: RetainedStore
  /** Either store is durable: acknowledgements wait for commits. */
  private readonly durable: boolean
  private held: HeldAck[] = []
  /** Commits started and not yet settled; they settle in order (chained). */
  private inFlight = 0
  private chain: Promise<void> = Promise.resolve()
  private readonly onError: (error: StoreError) => void

  constructor(sessions: SessionStore, retained: RetainedStore, onError: (error: StoreError) => void) {
    this.sessions = sessions
    this.retained = retained
    this.durable = sessions.durable || retained.durable
    this.onError = onError
  }

  /** A connection was written to in this turn: flush it at the end of the turn. */
  schedule(conn: ClientConnection): void {
    this.dirty.push(conn)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(runFlush, this)
    }
  }

  /** Sends a QoS 1/2 acknowledgement, once what this turn stored is committed. */
  ack(conn: ClientConnection, type: AckType, id: number, reasonCode: number): void {
    if (!this.durable) {
      conn.send(encodeAck(type, id, conn.version, reasonCode))
      return
    }
    this.held.push({conn, type, id, reasonCode})
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(runFlush, this)
    }
  }

  /** The end of a turn: commit, then flush every connection written to. */
  run(): void {
    if (this.durable) this.commit()
    this.scheduled = false
    const list = this.dirty
    for (let i = 0; i < list.length; i++) list[i].flush()
    list.length = 0
  }

  private commit(): void {
    const held = this.held
    if (held.length > 0) this.held = []
    let pending: Promise<void> | undefined
    try {
      const a = this.sessions.commit()
      const b = this.retained.commit()
      pending = a === undefined ? b : b === undefined ? a : Promise.all([a, b]).then(noop)
    } catch (error) {
      pending = Promise.reject(error)
    }
    if (pending === undefined && this.inFlight === 0) {
      // Nothing to write and nothing before it: the acknowledgements go out with this turn's flush.
      release(held)
      return
    }
    this.inFlight++
    const settle = pending ?? Promise.resolve()
    this.chain = this.chain.then(
      () =>
        settle.then(
          () => this.settled(held, undefined),
          (error: unknown) => this.settled(held, storeError(error)),
        ),
    )
  }

  private settled(held: HeldAck[], error: StoreError | undefined): void {
    this.inFlight--
    if (error === undefined) release(held)
    else {
      this.onError(error)
      refuse(held, error)
    }
  }
}

function noop(): void {}

function storeError(error: unknown): StoreError {
  const message = error instanceof Error ? error.message : String(error)
  return new StoreError(`the store could not write this turn's changes: ${message}`, {cause: error})
}

function release(held: HeldAck[]): void {
  for (let i = 0; i < held.length; i++) {
    const h = held[i]
    h.conn.send(encodeAck(h.type, h.id, h.conn.version, h.reasonCode))
  }
}

/** Nothing was stored: no acknowledgement says it was. */
function refuse(held: HeldAck[], error: StoreError): void {
  for (let i = 0; i < held.length; i++) {
    const {conn, type, id} = held[i]
    if (conn.version === 5 && (type === PacketType.PUBACK || type === PacketType.PUBREC)) conn.send(encodeAck(type, id, 5, ReasonCode.UnspecifiedError))
    else conn.close(ReasonCode.UnspecifiedError, `the broker could not store the message: ${error.message}`)
  }
}
