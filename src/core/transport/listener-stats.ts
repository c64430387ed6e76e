/**
 * Counters per listener, incremented where things happen. Plain integers on a plain
 * object: no allocation, nothing measurable on the hot path.
 */
export interface ListenerStats {
  connections: number
  peakConnections: number
  accepted: number
  /** Handshake rejections by reason: wrong path, subprotocol, TLS, text frame... */
  rejected: Record<string, number>
  wsFramesIn: number
  wsFramesOut: number
}

export function newListenerStats(): ListenerStats {
  return {connections: 0, peakConnections: 0, accepted: 0, rejected: {}, wsFramesIn: 0, wsFramesOut: 0}
}

export function countRejected(stats: ListenerStats, reason: string): void {
  stats.rejected[reason] = (stats.rejected[reason] ?? 0) + 1
}
