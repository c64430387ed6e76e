/**
 * Gives memory back after a burst of connections, once the broker is quiet.
 *
 * During a burst (10,000 clients connecting) V8 grows its young generation to its maximum
 * (two 16 MB semi-spaces) and keeps it until a later garbage collection sees a low allocation
 * rate. An idle broker allocates so little that this takes a minute or more: measured on
 * 10,000 idle TCP connections, RSS stays at 5.4 KiB per connection for 50–70 s, then falls to
 * 1.7–2.1 KiB when V8's own memory reducer runs. So `serve` collects itself: after at least
 * BURST_CONNECTS new connections, once a check interval (1 s) had almost no connects and
 * little traffic, on the schedule of COLLECT_AT until the heap shrank. Under load it never
 * runs (a collection pauses the process for tens of ms).
 */
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'
import type {Broker} from '../core/broker/broker.js'
import type {Logger} from '../core/logger.js'

/**
 * The quiet intervals after a burst at which to collect, until the heap shrank. V8 shrinks
 * its young generation only in a collection that sees a low (and nonzero) allocation rate,
 * which it measures over the collections of the last 5 s; the first collection after the
 * burst, and the one after it (what the first moved to the old generation), carry the burst's
 * allocations, so nothing collected in the 5 s after them can shrink. Measured with `bench
 * conn -c 10000 --settle 10`: collections every interval shrank at the 8th, 7 s after the
 * first; with this schedule at the 4th, 7 s after the first, in every run (2.4-2.6 KiB per TCP
 * connection; collecting every 2 s missed the 10 s mark half the time: 5.3-5.6 KiB).
 */
export const COLLECT_AT: readonly number[] = [0, 1, 6, 7, 8, 9]

/** Full collections at most after one burst. */
export const MAX_COLLECTIONS = COLLECT_AT.length

/** Whether to collect in the `tick`th quiet interval of a trim (from 0), after `done` collections. */
export function collectsAt(tick: number, done: number): boolean {
  return COLLECT_AT[done] === tick
}

/** New connections since the last collection that make a burst worth collecting after. */
export const BURST_CONNECTS = 1000

export interface IdleMemoryOptions {
  /** How often the broker's counters are read (ms). */
  intervalMs?: number
  /** Connects per interval below which the burst is over. */
  quietConnects?: number
  /** Packets read per interval below which the broker counts as quiet (10,000 idle clients pinging each minute send 170/s). */
  quietPackets?: number
  /** The full collection; by default V8's gc(), exposed for this when first needed. */
  collect?: () => void
}

/** What Broker.activity() reads: plain counters, not a full listener status (which visits every socket: 4 ms with 10,000 connections, every interval). */
interface Counts {
  accepted: number
  packetsIn: number
}

/** Decides, from one reading of the counters per interval, when a burst has ended. */
export class BurstWatch {
  private last: Counts | undefined
  /** Connections accepted at the last collection (or at start). */
  private base: number | undefined
  /** Whether the last interval was quiet. */
  quiet = false

  constructor(
    private readonly quietConnects: number,
    private readonly quietPackets: number,
  ) {}

  /** True when a collection is due now. */
  sample(now: Counts): boolean {
    const last = this.last
    this.last = now
    this.base ??= now.accepted
    if (last === undefined) return false
    const quiet = now.accepted - last.accepted < this.quietConnects && now.packetsIn - last.packetsIn < this.quietPackets
    this.quiet = quiet
    if (!quiet || now.accepted - this.base < BURST_CONNECTS) return false
    this.base = now.accepted
    return true
  }
}

let exposedGc: (() => void) | undefined

/** V8's gc(), which Node hides unless started with --expose-gc: the flag is set, and a new context picks the function up. */
function fullCollection(): void {
  if (exposedGc === undefined) {
    setFlagsFromString('--expose-gc')
    exposedGc = runInNewContext('gc') as () => void
  }
  exposedGc()
}

/** Starts watching; returns the stop function. The timer never keeps the process alive. */
export function trimMemoryWhenIdle(broker: Broker, log: Logger, o: IdleMemoryOptions = {}): () => void {
  const intervalMs = o.intervalMs ?? 1000
  const watch = new BurstWatch(o.quietConnects ?? 10, o.quietPackets ?? (2000 * intervalMs) / 1000)
  const collect = o.collect ?? fullCollection
  watch.sample(broker.activity())
  // While trimming: the heap before the first collection, quiet intervals so far, collections so far.
  let trim: {before: number; tick: number; done: number} | undefined
  const timer = setInterval(() => {
    if (watch.sample(broker.activity())) trim = {before: process.memoryUsage().heapTotal, tick: 0, done: 0}
    if (trim === undefined) return
    if (!watch.quiet) return void (trim = undefined)
    if (!collectsAt(trim.tick++, trim.done)) return
    collect()
    const after = process.memoryUsage().heapTotal
    if (after > trim.before * 0.75 && ++trim.done < MAX_COLLECTIONS) return
    // The heap shrinks at once; RSS follows as V8 unmaps the pages, a moment later.
    log.debug('memory trimmed after a burst of connections', {clients: broker.clients.size, heapMiBBefore: mib(trim.before), heapMiBAfter: mib(after), collections: Math.min(trim.done + 1, MAX_COLLECTIONS)})
    trim = undefined
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}

function mib(bytes: number): number {
  return Math.round(bytes / 1048576)
}
