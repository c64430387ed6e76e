/**
 * Topic trie. `match` is synchronous and visitor-style: no arrays or closures per
 * message. Exact filters (no wildcard) also sit in a map, so the common case of a
 * subscription to a concrete topic costs one lookup. What the wildcard filters match is
 * remembered per topic (until any wildcard subscription changes), so a topic published
 * again costs one lookup too instead of a walk that slices the topic level by level.
 */
export type Visitor<C, S, O> = (ctx: C, subscriber: S, options: O) => void

class Node<S, O> {
  readonly children = new Map<string, Node<S, O>>()
  plus: Node<S, O> | undefined = undefined
  /** Subscribers of "<this level>/#" */
  hash: Map<S, O> | undefined = undefined
  /** Subscribers whose filter ends exactly here. */
  subs: Map<S, O> | undefined = undefined

  isEmpty(): boolean {
    return this.children.size === 0 && this.plus === undefined && this.hash === undefined && this.subs === undefined
  }
}

/** Topics whose wildcard matches are remembered; past this the memory starts over. */
export const MATCH_CACHE_TOPICS = 10_000

function remember<S, O>(hits: Array<S | O>, s: S, o: O): void {
  hits.push(s, o)
}

function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#')
}

export class Router<S, O> {
  private readonly root = new Node<S, O>()
  private readonly exact = new Map<string, Map<S, O>>()
  private wildcardCount = 0
  private subscriptionCount = 0
  /** topic → what the wildcard filters match, flat: subscriber, options, subscriber, options… */
  private readonly wildcardHits = new Map<string, Array<S | O>>()

  get size(): number {
    return this.subscriptionCount
  }

  /** Adds or replaces the subscription of `s` to `filter`; returns true when it is new. */
  add(filter: string, s: S, o: O): boolean {
    let map: Map<S, O> | undefined
    if (!hasWildcard(filter)) {
      map = this.exact.get(filter)
      if (!map) this.exact.set(filter, (map = new Map()))
    } else {
      let node = this.root
      const levels = filter.split('/')
      for (let i = 0; i < levels.length; i++) {
        const level = levels[i]
        if (level === '#') {
          node.hash ??= new Map()
          map = node.hash
          break
        }
        let next: Node<S, O> | undefined
        if (level === '+') {
          next = node.plus ??= new Node()
        } else {
          next = node.children.get(level)
          if (!next) node.children.set(level, (next = new Node()))
        }
        node = next
      }
      if (!map) map = node.subs ??= new Map()
    }
    const isNew = !map.has(s)
    map.set(s, o)
    if (hasWildcard(filter)) this.wildcardHits.clear()
    if (isNew) {
      this.subscriptionCount++
      if (hasWildcard(filter)) this.wildcardCount++
    }
    return isNew
  }

  remove(filter: string, s: S): boolean {
    if (!hasWildcard(filter)) {
      const map = this.exact.get(filter)
      if (!map || !map.delete(s)) return false
      if (map.size === 0) this.exact.delete(filter)
      this.subscriptionCount--
      return true
    }
    const removed = this.removeAt(this.root, filter.split('/'), 0, s)
    if (removed) {
      this.wildcardHits.clear()
      this.subscriptionCount--
      this.wildcardCount--
    }
    return removed
  }

  private removeAt(node: Node<S, O>, levels: string[], i: number, s: S): boolean {
    if (i === levels.length) {
      if (!node.subs || !node.subs.delete(s)) return false
      if (node.subs.size === 0) node.subs = undefined
      return true
    }
    const level = levels[i]
    if (level === '#') {
      if (!node.hash || !node.hash.delete(s)) return false
      if (node.hash.size === 0) node.hash = undefined
      return true
    }
    const next = level === '+' ? node.plus : node.children.get(level)
    if (!next || !this.removeAt(next, levels, i + 1, s)) return false
    if (next.isEmpty()) {
      if (level === '+') node.plus = undefined
      else node.children.delete(level)
    }
    return true
  }

  /** Calls visit(ctx, subscriber, options) for every subscription matching `topic`. */
  match<C>(topic: string, visit: Visitor<C, S, O>, ctx: C): void {
    const exact = this.exact.get(topic)
    if (exact) for (const [s, o] of exact) visit(ctx, s, o)
    if (this.wildcardCount === 0) return
    let hits = this.wildcardHits.get(topic)
    if (hits === undefined) {
      hits = []
      // A leading wildcard does not match a $-topic (MQTT-4.7.2-1).
      this.walk(this.root, topic, 0, remember as Visitor<Array<S | O>, S, O>, hits, topic.charCodeAt(0) === 0x24)
      if (this.wildcardHits.size >= MATCH_CACHE_TOPICS) this.wildcardHits.clear()
      this.wildcardHits.set(topic, hits)
    }
    for (let i = 0; i < hits.length; i += 2) visit(ctx, hits[i] as S, hits[i + 1] as O)
  }

  private walk<C>(node: Node<S, O>, topic: string, start: number, visit: Visitor<C, S, O>, ctx: C, noWildcard: boolean): void {
    // `start` is the index of the current level's first character; -1 means past the end.
    if (node.hash && !noWildcard) for (const [s, o] of node.hash) visit(ctx, s, o)
    if (start === -1) {
      if (node.subs) for (const [s, o] of node.subs) visit(ctx, s, o)
      return
    }
    const slash = topic.indexOf('/', start)
    const next = slash === -1 ? -1 : slash + 1
    if (node.plus && !noWildcard) this.walk(node.plus, topic, next, visit, ctx, false)
    if (node.children.size > 0) {
      const child = node.children.get(slash === -1 ? topic.slice(start) : topic.slice(start, slash))
      if (child) this.walk(child, topic, next, visit, ctx, false)
    }
  }
}
