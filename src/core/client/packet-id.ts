/** Packet identifiers 1..65535, never reusing one still in flight. */
export class PacketIdAllocator {
  private last = 0
  private readonly used = new Set<number>()

  get inUse(): number {
    return this.used.size
  }

  /** Returns a free id, or 0 when all 65535 are in flight. */
  allocate(): number {
    if (this.used.size >= 65535) return 0
    do this.last = this.last === 65535 ? 1 : this.last + 1
    while (this.used.has(this.last))
    this.used.add(this.last)
    return this.last
  }

  release(id: number): void {
    this.used.delete(id)
  }
}
