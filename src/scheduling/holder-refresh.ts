/**
 * When a download re-reads what its holders have, and when it searches for new holders.
 *
 * Gossip (`have` on the task topic) is how a download normally learns that a holder gained a
 * piece; reading a holder's metadata is the fallback for a `have` that got lost. Read every
 * second from every holder, as it was, the fallback cost more than the download: each read is a
 * new libp2p stream (protocol negotiation, a peer-store write on both ends, a bitmap and a digest
 * per piece), and in an 8-host swarm on 2 cores the control plane took most of the nodes' CPU
 * (issue 12's profile). So:
 * - a holder is re-read only when nothing was heard from it (`have` or metadata) for `quietMs`;
 * - the search for new holders (every connected peer and the DHT) runs `firstSearchMs` after the
 *   last one that found someone new, doubling up to `maxSearchMs` while searches find no one (a
 *   holder that gains its first piece announces it on gossip anyway).
 * Pure bookkeeping under an injected clock; the caller owns the timer.
 */
export interface HolderRefreshInit {
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
  /** Silence after which a holder's metadata is read again. @default 5000 */
  quietMs?: number
  /** Pause before the first search and after one that found a new holder. @default 10_000 */
  firstSearchMs?: number
  /** Cap on the pause between searches. @default 60_000 */
  maxSearchMs?: number
}

export class HolderRefresh {
  private readonly now: () => number
  private readonly quietMs: number
  private readonly firstSearchMs: number
  private readonly maxSearchMs: number
  private readonly heardAt = new Map<string, number>()
  private searchPause: number
  private nextSearchAt: number

  constructor (init: HolderRefreshInit = {}) {
    this.now = init.now ?? Date.now
    this.quietMs = init.quietMs ?? 5000
    this.firstSearchMs = init.firstSearchMs ?? 10_000
    this.maxSearchMs = Math.max(this.firstSearchMs, init.maxSearchMs ?? 60_000)
    this.searchPause = this.firstSearchMs
    this.nextSearchAt = this.now() + this.firstSearchMs
  }

  /** Something arrived from `peer` that says what it holds (a `have`, its metadata). */
  heard (peer: string): void {
    this.heardAt.set(peer, this.now())
  }

  /** Of `peers`, those to read again now; each is counted as heard from, so it is read once per quiet spell. */
  due (peers: Iterable<string>): string[] {
    const now = this.now()
    const result: string[] = []
    for (const peer of peers) {
      const at = this.heardAt.get(peer)
      if (at === undefined || now - at >= this.quietMs) {
        result.push(peer)
        this.heardAt.set(peer, now)
      }
    }
    return result
  }

  /** Whether a search for new holders is due now. */
  searchDue (): boolean {
    return this.now() >= this.nextSearchAt
  }

  /** A search ended; `foundNew`: it met a holder not known before. */
  searched (foundNew: boolean): void {
    this.searchPause = foundNew ? this.firstSearchMs : Math.min(this.maxSearchMs, this.searchPause * 2)
    this.nextSearchAt = this.now() + this.searchPause
  }

  forget (peer: string): void {
    this.heardAt.delete(peer)
  }
}
