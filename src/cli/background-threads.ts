/**
 * Lets the broker's event loop win the CPU over its process's helper threads.
 *
 * A freshly started broker compiles its hot functions with V8's optimizing compiler on helper
 * threads, and V8 marks and sweeps on them too. On a small machine those threads compete for a
 * core with the event loop and with the broker's clients: measured at 1,000 msg/s on 2 cores,
 * a fresh `serve` delayed 1-2% of messages by 2-5 ms during its first 3 s (p99 2.0-2.3 ms,
 * against 0.2 ms once compiled). With the helpers at the lowest priority (nice 19) the
 * scheduler runs the event loop as soon as a packet arrives: p99 0.4-0.5 ms over the same
 * seconds, the same compiles finishing a little later on an idle core.
 *
 * Linux only (there a thread has its own nice value, set through its thread id); elsewhere a
 * no-op. It must run before the broker starts threads that are on its hot path (the SQLite
 * writer thread): threads created later inherit the creating thread's priority, and the event
 * loop's own priority is never changed.
 */
import {readdirSync} from 'node:fs'
import {setPriority} from 'node:os'

/** The lowest priority on Linux: the thread runs only when nothing else wants the core. */
export const BACKGROUND_NICE = 19

/** Lowers every thread of this process but the main one; returns how many were lowered. */
export function lowerBackgroundThreads(platform: NodeJS.Platform = process.platform): number {
  if (platform !== 'linux') return 0
  let tids: string[]
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    return 0 // no /proc (a container without it): leave the priorities as they are
  }
  let lowered = 0
  for (const tid of tids) {
    const id = Number(tid)
    if (id === process.pid) continue // the main thread: the event loop
    try {
      setPriority(id, BACKGROUND_NICE)
      lowered++
    } catch {
      // The thread ended meanwhile, or the system refuses: a priority is an optimization, not a need.
    }
  }
  return lowered
}
