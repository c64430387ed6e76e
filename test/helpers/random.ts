/**
 * Seeded randomness for tests: a failing run prints its seed, and the same seed (from the
 * environment variable the test names) replays it exactly.
 */

/** mulberry32: a small, fast PRNG with 32 bits of state; numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The seed in environment variable `name`, or a new one from the clock and the pid. */
export function seedFromEnv(name: string): number {
  const text = process.env[name]
  return text === undefined ? (Date.now() ^ (process.pid << 16)) >>> 0 : Number(text)
}
