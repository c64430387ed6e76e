/**
 * The announcements of remote-interest.ts on NATS: what a node tells the others about its
 * filters. JSON, small and rare (a subscription's first and last client, a node's start):
 *
 *   delta     {k: 'd', i: INSTANCE, n: NAME, s: SEQ, c: ['+FILTER' | '-FILTER', …]}
 *   snapshot  {k: 's', i, n, s: SEQ, f: [FILTER, …], first, last}   (in parts when large)
 *   bye       {k: 'b', i, n}                                       (a node closing)
 *   request   {k: 'q', i, n, to: INSTANCE | '*'}                   (send your snapshot)
 *
 * A delta's sequence number follows the previous delta's of its node by one; a snapshot
 * carries the number of the last delta it includes, so a receiver that sees a gap asks again.
 */

/** Bytes of filters in one announcement: well under NATS's default max_payload (1 MiB). */
export const PART_BYTES = 256 * 1024

export interface Delta {
  k: 'd'
  i: string
  n: string
  s: number
  c: string[]
}

export interface Snapshot {
  k: 's'
  i: string
  n: string
  s: number
  f: string[]
  first: boolean
  last: boolean
}

export interface Bye {
  k: 'b'
  i: string
  n: string
}

export interface Request {
  k: 'q'
  i: string
  n: string
  to: string
}

export type Announcement = Delta | Snapshot | Bye | Request

function strings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string')
}

/** An announcement read from NATS; undefined when it is not one this version reads. */
export function parseAnnouncement(data: Uint8Array): Announcement | undefined {
  let a: Record<string, unknown>
  try {
    a = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8')) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof a !== 'object' || a === null || typeof a.i !== 'string' || a.i === '' || typeof a.n !== 'string') return undefined
  switch (a.k) {
    case 'd':
      return Number.isSafeInteger(a.s) && strings(a.c) && a.c.every((c) => c[0] === '+' || c[0] === '-') ? (a as unknown as Delta) : undefined
    case 's':
      return Number.isSafeInteger(a.s) && strings(a.f) && typeof a.first === 'boolean' && typeof a.last === 'boolean' ? (a as unknown as Snapshot) : undefined
    case 'b':
      return a as unknown as Bye
    case 'q':
      return typeof a.to === 'string' ? (a as unknown as Request) : undefined
    default:
      return undefined
  }
}

/** Splits a list of filters (or changes) into parts of at most about PART_BYTES each (at least one part). */
export function parts(items: readonly string[]): string[][] {
  const out: string[][] = [[]]
  let bytes = 0
  for (const item of items) {
    // JSON may write a control character as 6 bytes; other characters take at most 3 per UTF-16 unit.
    const size = item.length * 6 + 3
    if (bytes + size > PART_BYTES && out[out.length - 1].length > 0) {
      out.push([])
      bytes = 0
    }
    out[out.length - 1].push(item)
    bytes += size
  }
  return out
}
