/**
 * The fan-out seam (as mqemitter is Aedes's): how a message reaches the namespace. The
 * broker publishes every application message to its Bus, and the Bus hands messages for
 * this node's subscriptions back to the node. A cluster Bus (e.g. on NATS) sends the
 * message to the nodes whose filters match and hands over sessions between nodes; the
 * LocalBus is one node: publish is a direct call to local delivery, at the same speed as
 * routing without a seam.
 */
import type {ClientConnection} from './connection.js'
import type {Message} from './message.js'
import type {RetainedStore} from './retained-store.js'
import type {SessionState} from './session-state.js'
import type {SessionStore} from './session-store.js'

/** What a Bus calls on the node it serves. */
export interface BusNode {
  /** Routes a message to this node's subscriptions; returns how many matched. */
  deliver(message: Message, from: ClientConnection | null, wire: Buffer | undefined): number
  /** Another node took over this client id: close the local connection (MQTT 5: DISCONNECT 0x8E). */
  takeOver(clientId: string, by: string): void
  /** A cluster Bus picked this node for one message of the shared group `key` ($share/GROUP/FILTER): to one local member. */
  deliverToGroup?(key: string, message: Message): void
}

/**
 * What a cluster Bus that moves sessions between nodes calls on the node's session
 * lifecycle (sessions.ts), given once through Bus.hostSessions.
 */
export interface SessionHost {
  /** A session from another node: held here (offline until its client attaches), its subscriptions routed. */
  adopt(state: SessionState): void
  /**
   * Another node takes this session: a connection here closes (MQTT 5: 0x8E; with
   * `keepConnected`, a connected session stays) and the session leaves this node, without its
   * Will; its state, or undefined when not held here.
   */
  release(clientId: string, by: string, keepConnected?: boolean): SessionState | undefined
  /** A stored message replayed for one session held here: delivered (or queued) under that session's own subscriptions; false when none matches. */
  replay(clientId: string, message: Message): boolean
}

/** What a cluster Bus tells the admin API and $SYS about the cluster (Bus.describe). */
export interface BusDescription {
  /** This node's name. */
  node: string
  /** Whether this node's link to the cluster is up. */
  connected: boolean
  /** Every node this one knows, itself first. */
  nodes: ReadonlyArray<{name: string; state: string}>
  stats: Readonly<Record<string, number>>
}

export interface Bus {
  start(node: BusNode): Promise<void>
  /**
   * Publishes a message to the namespace; `wire` is its inbound PUBLISH bytes when they may
   * be forwarded as they are. Synchronous; returns the subscriptions it matched on this node.
   */
  publish(message: Message, from: ClientConnection | null, wire: Buffer | undefined): number
  /** This node has (one more) subscription to `filter`. */
  addInterest(filter: string): void
  /** This node has one subscription less to `filter`. */
  removeInterest(filter: string): void
  /** A client with this id connected here: any other node holding it must let go (`cleanStart`: and end its session). */
  claim(clientId: string, cleanStart?: boolean): void
  close(): Promise<void>
  /**
   * Optional, for a Bus that spreads shared groups itself (each message to one member
   * cluster-wide): a group with members here, keyed $share/GROUP/FILTER. With these the
   * router leaves shared groups out and the Bus calls BusNode.deliverToGroup.
   */
  addShared?(key: string, filter: string): void
  removeShared?(key: string): void
  /** Optional: a message of the shared group `key` whose member here left unacknowledged, with no member here to take it: to a member on another node. */
  redeliverShared?(key: string, message: Message): void
  /** Optional: a client with a Will connected here (a cluster keeps it, so the other nodes publish it if this node dies). */
  holdWill?(clientId: string, will: Message): void
  /** Optional: the client's connection ended here; its Will was this node's to publish or drop. */
  dropWill?(clientId: string): void
  /** Optional: the cluster as this node sees it (a single node has none). */
  describe?(): BusDescription
  /** Optional: a Bus that shares retained messages across nodes wraps the node's retained store (Broker's constructor). */
  wrapRetained?(store: RetainedStore): RetainedStore
  /** Optional: a Bus that moves sessions between nodes wraps the node's session store (Broker's constructor). */
  wrapSessions?(store: SessionStore): SessionStore
  /** Optional: the node's session lifecycle, for a Bus that moves sessions between nodes. */
  hostSessions?(host: SessionHost): void
  /** Optional: the turn's acknowledgements wait for commit() (turn-flush.ts), as for a durable store. */
  readonly holdsOutput?: boolean
  /** Optional: what this turn gave the Bus is settled (e.g. subscriptions known to the cluster); undefined: nothing to wait for. */
  commit?(): Promise<void> | undefined
}

export class LocalBus implements Bus {
  private node: BusNode | undefined

  start(node: BusNode): Promise<void> {
    this.node = node
    return Promise.resolve()
  }

  publish(message: Message, from: ClientConnection | null, wire: Buffer | undefined): number {
    return this.node === undefined ? 0 : this.node.deliver(message, from, wire)
  }

  addInterest(_filter: string): void {}

  removeInterest(_filter: string): void {}

  claim(_clientId: string): void {}

  close(): Promise<void> {
    this.node = undefined
    return Promise.resolve()
  }
}
