/** "Did you mean …": the closest known word to a typo, when one is close enough to be a typo. */

/** Levenshtein distance (insert, delete, substitute; each costs 1). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return prev[b.length]
}

/** The candidate nearest to `word` (ties: the first), if it is within about a third of its length (1 to 3 edits). */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.ceil(word.length / 3)))
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return bestDistance <= limit ? best : undefined
}

const TRANSPORT_WORDS = new Set(['mqtt', 'mqtts', 'ws', 'wss'])

/**
 * Flags that mean something else in other MQTT tools, answered with our spelling when a
 * parse failed: MQTTX CLI's `-l ws` (its protocol flag) is `--protocol ws` here, where
 * -l reads stdin lines as in mosquitto_pub.
 */
export function familiarFlagHint(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length - 1; i++) {
    if (argv[i] === '-l' && TRANSPORT_WORDS.has(argv[i + 1].toLowerCase())) {
      return `-l ${argv[i + 1]}: use --protocol ${argv[i + 1].toLowerCase()} (-l reads stdin lines, as in mosquitto_pub; MQTTX CLI's -l is --protocol here)`
    }
  }
  return undefined
}
