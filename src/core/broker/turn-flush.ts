/**
 * Once per event-loop turn: the commit point and the write batching. What the handlers of
 * one turn stored (session and retained stores) is committed in one go, and the packets
 * written to each connection in that turn leave in one write (connection.ts flush()).
 *
 * With the memory stores (not durable) nothing waits: acknowledgements are sent at once
 * and every turn's packets are flushed at its end.
 *
 * With a durable store nothing leaves before it is stored: a turn's packets stay in the
 * connections' outboxes until that turn's commit has resolved (so a QoS 2 message is never
 * delivered twice after a crash), and the acknowledgements of that turn (PUBACK, PUBREC,
 * PUBREL, PUBCOMP, SUBACK, UNSUBACK: ack() and hold()) are sent after it. Commits settle in
 * order, so packets keep their order. If a commit fails, its acknowledgements are refused
 * (MQTT 5: PUBACK/PUBREC 0x80; otherwise the connection is closed, MQTT 3.1.1 having no
 * negative acknowledgement) and the error is reported.
 */
import {PacketType, encodeAck} from '../protocol/encode.js'
import {ReasonCode} from '../protocol/reason-codes.js'
import {StoreError} from '../errors.js'
import type {Bus} from './bus.js'
import type {ClientConnection} from './connection.js'
import type {RetainedStore} from './retained-store.js'
import type {SessionStore} from './session-store.js'

type AckType = typeof PacketType.PUBACK | typeof PacketType.PUBREC | typeof PacketType.PUBREL | typeof PacketType.PUBCOMP

interface HeldAck {
  conn: ClientConnection
  type: AckType
  id: number
  reasonCode: number
  /** An acknowledgement encoded already (SUBACK, UNSUBACK), and what follows it (retained messages). */
  packet?: Buffer
  then?: () => void
}

/** One turn whose commit is under way: its connections with their outbox marks, and its acknowledgements. */
interface HeldTurn {
  conns: ClientConnection[]
  marks: number[]
  acks: HeldAck[]
}

function runFlush(f: TurnFlush): void {
  f.run()
}

export class TurnFlush {
  private readonly dirty: ClientConnection[] = []
  private scheduled = false
  /** Chunks read in this turn (afterRead), and whether the last turn read at most one. */
  private reads = 0
  private quiet = true
  private readonly sessions: SessionStore
  private readonly retained: RetainedStore
  /** Either store is durable: output and acknowledgements wait for commits. */
  readonly holdsOutput: boolean
  private held: HeldAck[] = []
  /** Commits started and not yet settled; they settle in order (chained). */
  private inFlight = 0
  private chain: Promise<void> = Promise.resolve()
  private readonly onError: (error: StoreError) => void
  /** A Bus whose commit() the turn waits for too (a cluster: subscriptions known to NATS). */
  private readonly bus: Bus | undefined

  constructor(sessions: SessionStore, retained: RetainedStore, onError: (error: StoreError) => void, bus?: Bus) {
    this.sessions = sessions
    this.retained = retained
    this.bus = bus?.holdsOutput === true ? bus : undefined
    this.holdsOutput = sessions.durable || retained.durable || this.bus !== undefined
    this.onError = onError
  }

  /**
   * A client's bytes were handled. At light load (the last turn read at most one chunk)
   * the first read of a turn writes what it produced at once, instead of at the end of the
   * turn: a lone message need not wait for the event loop's check phase. Under load, turns
   * read many chunks and their output still leaves in one write per connection per turn.
   */
  afterRead(): void {
    if (++this.reads === 1 && this.quiet && !this.holdsOutput) {
      const list = this.dirty
      for (let i = 0; i < list.length; i++) list[i].flush()
      list.length = 0
    }
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(runFlush, this)
    }
  }

  /** A connection was written to in this turn: flush it at the end of the turn. */
  schedule(conn: ClientConnection): void {
    this.dirty.push(conn)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(runFlush, this)
    }
  }

  /** Something was stored outside a client's turn (the admin API, $SYS): commit it at the end of this turn. */
  touch(): void {
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(runFlush, this)
    }
  }

  /** Sends a QoS 1/2 acknowledgement, once what this turn stored is committed. */
  ack(conn: ClientConnection, type: AckType, id: number, reasonCode: number): void {
    if (!this.holdsOutput) {
      conn.send(encodeAck(type, id, conn.version, reasonCode))
      return
    }
    this.holdAck({conn, type, id, reasonCode})
  }

  /** Sends an acknowledgement (SUBACK, UNSUBACK), then runs `then`, once what this turn stored is committed. */
  hold(conn: ClientConnection, packet: Buffer, then?: () => void): void {
    if (!this.holdsOutput) {
      conn.send(packet)
      then?.()
      return
    }
    this.holdAck({conn, type: 0 as AckType, id: 0, reasonCode: 0, packet, then})
  }

  private holdAck(h: HeldAck): void {
    this.held.push(h)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(runFlush, this)
    }
  }

  /** The end of a turn: commit, then flush every connection written to (with a durable store: once committed). */
  run(): void {
    this.quiet = this.reads <= 1
    this.reads = 0
    if (this.holdsOutput) return this.runHeld()
    this.scheduled = false
    const list = this.dirty
    for (let i = 0; i < list.length; i++) list[i].flush()
    list.length = 0
  }

  private runHeld(): void {
    const acks = this.held
    if (acks.length > 0) this.held = []
    let pending: Promise<void> | undefined
    try {
      const a = this.sessions.commit()
      const b = this.retained.commit()
      pending = a === undefined ? b : b === undefined ? a : Promise.all([a, b]).then(noop)
      const c = this.bus?.commit?.()
      if (c !== undefined) pending = pending === undefined ? c : Promise.all([pending, c]).then(noop)
    } catch (error) {
      pending = Promise.reject(error)
    }
    const list = this.dirty
    if (pending === undefined && this.inFlight === 0) {
      // Written already (or nothing to write), and nothing before it: everything goes out now.
      release(acks)
      this.scheduled = false
      for (let i = 0; i < list.length; i++) list[i].flush()
      list.length = 0
      return
    }
    const turn: HeldTurn = {conns: list.slice(), marks: new Array<number>(list.length), acks}
    for (let i = 0; i < list.length; i++) turn.marks[i] = list[i].holdTurn()
    list.length = 0
    this.scheduled = false
    this.inFlight++
    const settle = pending ?? Promise.resolve()
    this.chain = this.chain.then(() =>
      settle.then(
        () => this.settled(turn, undefined),
        (error: unknown) => this.settled(turn, storeError(error)),
      ),
    )
  }

  private settled(turn: HeldTurn, error: StoreError | undefined): void {
    this.inFlight--
    // Delivered and queued packets go out either way: memory holds them as sent.
    for (let i = 0; i < turn.conns.length; i++) turn.conns[i].flushTo(turn.marks[i])
    if (error === undefined) release(turn.acks)
    else {
      this.onError(error)
      refuse(turn.acks, error)
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
    h.conn.send(h.packet ?? encodeAck(h.type, h.id, h.conn.version, h.reasonCode))
    h.then?.()
  }
}

/** Nothing was stored: no acknowledgement says it was. */
function refuse(held: HeldAck[], error: StoreError): void {
  for (let i = 0; i < held.length; i++) {
    const {conn, type, id, packet} = held[i]
    if (packet === undefined && conn.version === 5 && (type === PacketType.PUBACK || type === PacketType.PUBREC)) conn.send(encodeAck(type, id, 5, ReasonCode.UnspecifiedError))
    else conn.close(ReasonCode.UnspecifiedError, `the broker could not store what the client sent: ${error.message}`)
  }
}
