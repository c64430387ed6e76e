/**
 * The broker's listeners at runtime: the configured ones and those added through the admin
 * API, running or stopped, with counters that survive a stop and a start. Operations run one
 * at a time (the admin API may send them concurrently); stopping a listener disconnects its
 * clients through the broker (`disconnect`), which owns them.
 */
import type {BrokerConfig, ListenerConfig, ListenerDefaults, ListenerInput, WsOptions} from '../config.js'
import {DEFAULTS, listenerUrl, resolveListenerInput} from '../config.js'
import {ConfigError, ErrorCode, MqttwsError} from '../errors.js'
import type {Logger} from '../logger.js'
import {addCounters, emptyCounters, listenerSnapshot, newListenerStats} from '../transport/listener-stats.js'
import type {ListenerCounters, ListenerStats} from '../transport/listener-stats.js'
import {listen} from '../transport/registry.js'
import type {ListenHooks, Listener, ListenerInfo} from '../transport/types.js'

/** One listener the broker manages, running or stopped; its counters survive stop and start. */
export interface ManagedListener {
  config: ListenerConfig
  readonly stats: ListenerStats
  /** The running socket server; undefined while stopped. */
  listener: Listener | undefined
  /** The port it last bound (a port-0 listener restarts on the same port). */
  lastPort: number
}

export type ListenerState = 'running' | 'stopped'

/** A listener as the admin API shows it: configuration, state and counters. */
export interface ListenerStatus extends ListenerCounters {
  id: string
  url: string
  scheme: ListenerConfig['scheme']
  host: string
  port: number
  path?: string
  state: ListenerState
  tls: boolean
  ws?: WsOptions
}

/** Patch for Broker.updateListener: a new URL and/or WebSocket options and/or TLS material. */
export type ListenerUpdate = Omit<ListenerInput, 'id' | 'url'> & {url?: string}

/** Why a listener operation cannot be done: unknown id (404) or a state conflict (409). */
export class ListenerOpError extends MqttwsError {
  readonly status: 404 | 409
  constructor(message: string, status: 404 | 409) {
    super(status === 404 ? ErrorCode.CONFIG : ErrorCode.LISTEN, message)
    this.name = 'ListenerOpError'
    this.status = status
  }
}

export class ListenerManager {
  /** Every listener, running or stopped, by id, in the order they were added. */
  readonly table = new Map<string, ManagedListener>()
  /** The running socket servers. */
  readonly running: Listener[] = []
  private closing = false
  private ops: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly config: BrokerConfig,
    private readonly hooks: ListenHooks,
    private readonly log: Logger,
    /** Closes the clients of a listener (by its stats); resolves each when it is gone. */
    private readonly disconnect: (stats: ListenerStats, reason: string) => Array<Promise<void>>,
    /** Throws when a listener must not start (authentication: no anonymous access on a public address). */
    private readonly guard: (listener: ListenerConfig) => void = () => {},
  ) {}

  /** Starts the configured listeners. On failure, those already started are closed again. */
  async listenAll(configs: readonly ListenerConfig[]): Promise<ListenerInfo[]> {
    const started: ManagedListener[] = []
    try {
      for (const config of configs) {
        const m = this.manage(config)
        await this.startManaged(m)
        started.push(m)
      }
    } catch (error) {
      await Promise.all(started.map((m) => this.stopManaged(m)))
      for (const config of configs) this.table.delete(config.id)
      throw error
    }
    return started.map((m) => m.listener!.info)
  }

  /** Refuses new operations and waits for those under way (the broker is shutting down). */
  async quiesce(): Promise<void> {
    this.closing = true
    await this.ops
  }

  /** Closes every running listener's socket (their clients are the broker's to close). */
  async closeAll(): Promise<void> {
    const listeners = this.running.splice(0)
    for (const m of this.table.values()) m.listener = undefined
    await Promise.all(listeners.map((l) => l.close()))
  }

  private manage(config: ListenerConfig): ManagedListener {
    const m: ManagedListener = {config, stats: newListenerStats(), listener: undefined, lastPort: config.port}
    this.table.set(config.id, m)
    return m
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.ops.then(op, op)
    this.ops = next.catch(ignore)
    return next
  }

  private managed(id: string): ManagedListener {
    const m = this.table.get(id)
    if (m === undefined) {
      const known = [...this.table.keys()]
      throw new ListenerOpError(`no listener "${id}": ${known.length > 0 ? `the listeners are ${known.join(', ')}` : 'this broker has no listeners'}`, 404)
    }
    return m
  }

  private async startManaged(m: ManagedListener): Promise<void> {
    this.guard(m.config)
    const config = m.config.port === 0 && m.lastPort !== 0 ? {...m.config, port: m.lastPort} : m.config
    const l = await listen(config, this.hooks, m.stats)
    // Said at start: which browser origins may open a connection whose upgrade request authenticates it (config.ts requireOrigins).
    if (config.ws?.authFromUpgrade === true) {
      this.log.info('WebSocket clients authenticate from the upgrade request: only these origins may connect from a browser (ws.origins)', {listener: config.id, origins: config.ws.origins?.join(', ')})
    }
    m.listener = l
    m.lastPort = l.info.port
    this.running.push(l)
  }

  /** Closes the listener's socket and disconnects its clients (MQTT 5: DISCONNECT 0x8B), and waits for both. */
  private async stopManaged(m: ManagedListener): Promise<void> {
    const l = m.listener
    if (l === undefined) return
    m.listener = undefined
    const i = this.running.indexOf(l)
    if (i !== -1) this.running.splice(i, 1)
    await Promise.all([l.close(), ...this.disconnect(m.stats, `listener ${m.config.id} stopped`)])
  }

  private defaults(): ListenerDefaults {
    return this.config.listenerDefaults ?? {host: DEFAULTS.host, ws: DEFAULTS.ws}
  }

  private taken(except?: string): {ids: Set<string>; addresses: Map<string, string>} {
    const ids = new Set<string>()
    const addresses = new Map<string, string>()
    for (const [id, m] of this.table) {
      if (id === except) continue
      ids.add(id)
      addresses.set(`${m.config.host}:${m.listener?.info.port ?? m.lastPort}`, id)
    }
    return {ids, addresses}
  }

  /** Every listener with its state and counters. */
  statuses(): ListenerStatus[] {
    return [...this.table.values()].map(statusOf)
  }

  /** One listener's state and counters; throws ListenerOpError (404) for an unknown id. */
  status(id: string): ListenerStatus {
    return statusOf(this.managed(id))
  }

  /**
   * Connections accepted and packets read, summed over the listeners from their plain
   * counters: unlike totals() it does not visit every socket for its byte counts, so it
   * can be read every few seconds on a broker with 100,000 connections.
   */
  activity(): {accepted: number; packetsIn: number} {
    let accepted = 0
    let packetsIn = 0
    for (const m of this.table.values()) {
      accepted += m.stats.accepted
      packetsIn += m.stats.packetsIn
    }
    return {accepted, packetsIn}
  }

  /**
   * Every listener's counters summed, and how many there are and run. A caller that has
   * read statuses() passes them: each reading visits every open socket for its byte counts.
   */
  totals(statuses: readonly ListenerStatus[] = this.statuses()): ListenerCounters & {listeners: number; running: number} {
    const sum = emptyCounters()
    let running = 0
    for (const s of statuses) {
      addCounters(sum, s)
      if (s.state === 'running') running++
    }
    return {listeners: statuses.length, running, ...sum}
  }

  /**
   * Adds a listener at runtime (a URL, or a URL with id, ws and tls options) and starts it
   * unless `start` is false. Throws ConfigError for a bad URL or option, or an id or address
   * already taken, and TransportError when the port cannot be bound (the listener is then not added).
   */
  create(input: string | ListenerInput, options: {start?: boolean} = {}): Promise<ListenerStatus> {
    return this.serial(async () => {
      if (this.closing) throw new ListenerOpError('the broker is shutting down', 409)
      const config = resolveListenerInput(input, this.defaults(), this.taken())
      const m = this.manage(config)
      if (options.start !== false) {
        try {
          await this.startManaged(m)
        } catch (error) {
          this.table.delete(config.id)
          throw error
        }
      }
      this.log.info('listener added', {listener: config.id, url: listenerUrl(config)})
      return statusOf(m)
    })
  }

  /** Stops a listener and forgets it (its clients are disconnected first). */
  delete(id: string): Promise<ListenerStatus> {
    return this.serial(async () => {
      const m = this.managed(id)
      await this.stopManaged(m)
      this.table.delete(id)
      this.log.info('listener removed', {listener: id})
      return statusOf(m)
    })
  }

  /** Closes a listener's socket and disconnects its clients; other listeners are untouched. */
  stop(id: string): Promise<ListenerStatus> {
    return this.serial(async () => {
      const m = this.managed(id)
      if (m.listener === undefined) throw new ListenerOpError(`listener ${id} is already stopped`, 409)
      await this.stopManaged(m)
      this.log.info('listener stopped', {listener: id})
      return statusOf(m)
    })
  }

  /** Starts a stopped listener again (a port-0 listener takes the port it had). */
  start(id: string): Promise<ListenerStatus> {
    return this.serial(async () => {
      const m = this.managed(id)
      if (this.closing) throw new ListenerOpError('the broker is shutting down', 409)
      if (m.listener !== undefined) throw new ListenerOpError(`listener ${id} is already running`, 409)
      await this.startManaged(m)
      this.log.info('listener started', {listener: id})
      return statusOf(m)
    })
  }

  /** Stops (if running) and starts a listener. */
  restart(id: string): Promise<ListenerStatus> {
    return this.serial(async () => {
      const m = this.managed(id)
      if (this.closing) throw new ListenerOpError('the broker is shutting down', 409)
      await this.stopManaged(m)
      await this.startManaged(m)
      this.log.info('listener restarted', {listener: id})
      return statusOf(m)
    })
  }

  /**
   * Changes a listener's URL, WebSocket options or TLS material. A running listener is
   * restarted with them; if that fails it comes back with its old settings and the error is thrown.
   */
  update(id: string, update: ListenerUpdate): Promise<ListenerStatus> {
    return this.serial(async () => {
      const m = this.managed(id)
      if (typeof update !== 'object' || update === null || Array.isArray(update)) throw new ConfigError('a listener update must be an object with url, ws or tls')
      const old = m.config
      const port = old.port === 0 ? m.lastPort : old.port
      const input: ListenerInput = {
        url: update.url ?? listenerUrl({...old, port}),
        id,
        ...(update.ws !== undefined || old.ws !== undefined ? {ws: {...old.ws, ...update.ws}} : {}),
        ...(update.tls !== undefined ? {tls: update.tls} : old.tls !== undefined ? {tls: old.tls} : {}),
      }
      for (const key of Object.keys(update)) {
        if (key !== 'url' && key !== 'ws' && key !== 'tls') throw new ConfigError(`unknown setting "${key}" in a listener update: known settings are url, ws, tls`)
      }
      const config = resolveListenerInput(input, this.defaults(), this.taken(id))
      const wasRunning = m.listener !== undefined
      await this.stopManaged(m)
      m.config = config
      m.lastPort = config.port
      if (wasRunning) {
        try {
          await this.startManaged(m)
        } catch (error) {
          m.config = old
          m.lastPort = port
          await this.startManaged(m).catch(ignore)
          throw error
        }
      }
      this.log.info('listener updated', {listener: id, url: listenerUrl(config)})
      return statusOf(m)
    })
  }
}

function ignore(): void {}

function statusOf(m: ManagedListener): ListenerStatus {
  const c = m.config
  const port = m.listener?.info.port ?? (c.port === 0 ? m.lastPort : c.port)
  return {
    id: c.id,
    url: listenerUrl({...c, port}),
    scheme: c.scheme,
    host: c.host,
    port,
    ...(c.ws ? {path: c.ws.path} : {}),
    state: m.listener ? 'running' : 'stopped',
    tls: c.tls !== undefined,
    ...(c.ws ? {ws: c.ws} : {}),
    ...listenerSnapshot(m.stats),
  }
}
