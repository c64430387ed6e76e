/**
 * One client id connected once cluster-wide: a node announces every client id that
 * connects to it (a claim on PREFIX.ctl.claim); a node holding that id lets its
 * connection go (MQTT 5: DISCONNECT 0x8E). Two connects with one id on two nodes at
 * nearly the same time: the later claim keeps the client (ties: the larger instance id),
 * so exactly one of them stays. A claim for a client id not connected here is ignored.
 */

/** What a claim says. */
export interface Claim {
  id: string
  by: string
  instance: string
  t: number
  /** The client connected with a clean start: a session held elsewhere ends. */
  clean?: boolean
}


export class Claims {
  private readonly instance: string
  private readonly name: string
  private readonly mine = new Map<string, number>()

  constructor(name: string, instance: string) {
    this.name = name
    this.instance = instance
  }

  /** A client id connected here: the claim to announce. */
  make(clientId: string, now: number): Claim {
    this.mine.set(clientId, now)
    return {id: clientId, by: this.name, instance: this.instance, t: now}
  }

  /** The client's connection here ended. */
  release(clientId: string): void {
    this.mine.delete(clientId)
  }

  /** Whether another node's claim takes a client connected here away from this node. */
  yields(c: Claim): boolean {
    if (typeof c?.id !== 'string' || typeof c.t !== 'number' || c.instance === this.instance) return false
    const mine = this.mine.get(c.id)
    if (mine === undefined || mine > c.t || (mine === c.t && this.instance > c.instance)) return false
    this.mine.delete(c.id)
    return true
  }
}
