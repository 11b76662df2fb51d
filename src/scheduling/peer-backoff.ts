/**
 * A pause before asking a peer again after a request failed. Without it, a peer whose every
 * request fails at once (a connection that is closing but still listed) is asked again in the
 * same turn, and again: a loop of promises that never yields to the event loop, so no timer,
 * socket event or status request runs while memory grows (seen at 4 GB in bench-crowd).
 * Pure bookkeeping under an injected clock, like PeerScores.
 */
export interface PeerBackoffInit {
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
  /** The pause after the first failure; doubles with each failure in a row. @default 250 */
  firstMs?: number
  /** Cap on any pause. @default 30_000 */
  maxMs?: number
}

interface Pause {
  failures: number
  until: number
}

export class PeerBackoff {
  private readonly now: () => number
  private readonly firstMs: number
  private readonly maxMs: number
  private readonly paused = new Map<string, Pause>()

  constructor (init: PeerBackoffInit = {}) {
    this.now = init.now ?? Date.now
    this.firstMs = init.firstMs ?? 250
    this.maxMs = init.maxMs ?? 30_000
  }

  /** A request to `peer` failed (not a refusal: that is an answer). */
  failed (peer: string): void {
    const failures = (this.paused.get(peer)?.failures ?? 0) + 1
    const pause = Math.min(this.maxMs, this.firstMs * 2 ** (failures - 1))
    this.paused.set(peer, { failures, until: this.now() + pause })
  }

  /**
   * `peer` asked us to wait `ms` (busy): a pause of that length, which neither counts as a
   * failure nor shortens a longer pause already running.
   */
  pause (peer: string, ms: number): void {
    const until = this.now() + Math.max(0, ms)
    const current = this.paused.get(peer)
    if (current !== undefined && current.until >= until) return
    this.paused.set(peer, { failures: current?.failures ?? 0, until })
  }

  /** A request to `peer` delivered: no more pause. */
  succeeded (peer: string): void {
    this.paused.delete(peer)
  }

  /** Whether `peer` may be asked now. */
  ready (peer: string): boolean {
    const pause = this.paused.get(peer)
    return pause === undefined || this.now() >= pause.until
  }

  /** Milliseconds until `peer` may be asked again (0 when it may now). */
  remainingMs (peer: string): number {
    const pause = this.paused.get(peer)
    return pause === undefined ? 0 : Math.max(0, pause.until - this.now())
  }

  forget (peer: string): void {
    this.paused.delete(peer)
  }
}
