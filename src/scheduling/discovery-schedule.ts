/**
 * When a node next asks the DHT for its neighbourhood (Swarm's discovery rounds). While peers
 * keep appearing, often: a round soon after each new peer is identified, and every `firstMs`
 * while rounds find someone new, so that a crowd joining through one bootstrap node meshes
 * quickly. Once rounds stop finding anyone, the pause doubles up to `maxMs`: a settled node
 * must not query its whole neighbourhood every 10 s forever (each query is a stream to each of
 * the closest peers, and a peer-store write per peer in each answer, on both ends: docs/scale.md).
 * Pure bookkeeping: the caller owns the timer.
 */
export interface DiscoveryScheduleInit {
  /** The pause after a round that met someone new. @default 10_000 */
  firstMs?: number
  /** Cap on the pause once rounds find no one new. @default 300_000 */
  maxMs?: number
  /** The pause after a new peer is identified (it debounces a burst of them). @default 200 */
  soonMs?: number
}

export class DiscoverySchedule {
  private readonly firstMs: number
  private readonly maxMs: number
  private readonly soonMs: number
  private delay: number
  /** Peers connected when the last round ended, and every peer identified since. */
  private readonly known = new Set<string>()
  private quiet = false

  constructor (init: DiscoveryScheduleInit = {}) {
    this.firstMs = init.firstMs ?? 10_000
    this.maxMs = Math.max(this.firstMs, init.maxMs ?? 300_000)
    this.soonMs = init.soonMs ?? 200
    // The first round's successor waits firstMs / 2 × 2 = firstMs when it found no one.
    this.delay = this.firstMs / 2
  }

  /**
   * A round ended with these peers connected; returns the pause before the next one: `firstMs`
   * when one of them is new since the last round, otherwise twice the last pause, up to `maxMs`.
   */
  roundDone (connected: Iterable<string>): number {
    let met = false
    const now = new Set(connected)
    for (const peer of now) if (!this.known.has(peer)) met = true
    // Departed peers are forgotten: one that comes back counts as new.
    this.known.clear()
    for (const peer of now) this.known.add(peer)
    this.delay = met ? this.firstMs : Math.min(this.maxMs, this.delay * 2)
    this.quiet = !met
    return this.delay
  }

  /**
   * The last round met no one new and no new peer was identified since: this node's view of
   * the swarm has stopped growing (false until a round has ended).
   */
  get settled (): boolean {
    return this.quiet
  }

  /**
   * A peer was identified. New to us: returns the pause before a round (`soonMs`), and the
   * rounds after it start again from `firstMs`. Known: undefined, the current timer stands.
   */
  identified (peer: string): number | undefined {
    if (this.known.has(peer)) return undefined
    this.known.add(peer)
    this.quiet = false
    this.delay = this.firstMs / 2
    return this.soonMs
  }
}
