import { ThroughputMeter } from './rate-estimator.js'
import { electForColdTask, shareOf } from './rendezvous.js'

/**
 * Handover of an orphaned share (issue 12): when an elected seed is gone while a task is
 * downloading, the pieces of its share are re-assigned by the same rendezvous rule over the live
 * elected seeds (its share split among them as `shareOf` splits a task), or, when none is left,
 * by a fresh election among the live seeds. Every node computes the same owners from the same
 * task key, elected seeds and gone set, so exactly one live seed fetches each orphaned piece
 * from the origin, at once; the other nodes wait for it, and fall back to the origin (the stall
 * rule) only when no owner is alive or the owner was silent for `stallMs`.
 *
 * Ownership does not depend on who holds what (views differ between nodes): an owner still
 * takes a piece from a peer when a live peer holds it; only pieces no live peer holds go to
 * the origin. Pure bookkeeping under an injected clock; the caller reports connections and
 * what it hears.
 */
export interface ShareHandoverInit {
  taskKey: string
  /** The seeds elected for the task, in any order; `self` may be one of them. */
  elected: readonly string[]
  /** This node's peer id. */
  self: string
  pieceCount: number
  /** Silence of an owner after which others may take its pieces from the origin. */
  stallMs: number
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
}

export class ShareHandover {
  private readonly init: ShareHandoverInit
  private readonly now: () => number
  private readonly elected: string[]
  /** Seeds of a fresh election, once every elected seed is gone. */
  private fresh: string[] = []
  /** Seeds seen connected: only those can be seen to go (a seed never met is not known gone). */
  private readonly seen = new Set<string>()
  private readonly gone = new Set<string>()
  /** When each seed last showed progress (a `have`, a piece), or took over a share. */
  private readonly progressAt = new Map<string, number>()
  /** Pieces of its share each seed announced lately. */
  private readonly progressRates = new Map<string, ThroughputMeter>()
  private owners: Array<string | undefined>
  /** The distinct live owners of `owners`, kept with it (read on every pump). */
  private ownerSet: readonly string[]
  /** Each piece's owner by the election alone (nobody gone). */
  private readonly original: Array<string | undefined>

  constructor (init: ShareHandoverInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.elected = [...new Set(init.elected)]
    const start = this.now()
    for (const seed of this.elected) this.progressAt.set(seed, start)
    this.owners = this.compute()
    this.ownerSet = distinctOwners(this.owners)
    this.original = this.owners
  }

  /**
   * The peers connected now. Elected (or freshly elected) seeds seen connected before and
   * missing now are gone for the rest of the download; returns those newly gone.
   */
  observe (connected: Iterable<string>): string[] {
    const open = new Set(connected)
    const newlyGone: string[] = []
    for (const seed of [...this.elected, ...this.fresh]) {
      if (seed === this.init.self || this.gone.has(seed)) continue
      if (open.has(seed)) this.seen.add(seed)
      else if (this.seen.has(seed)) newlyGone.push(seed)
    }
    if (newlyGone.length > 0) {
      for (const seed of newlyGone) this.gone.add(seed)
      this.reassign()
    }
    return newlyGone
  }

  /** Whether no elected or freshly elected seed is left: `elect` must be called with the live seeds. */
  get needsElection (): boolean {
    return this.live(this.elected).length === 0 && this.live(this.fresh).length === 0
  }

  /** Elects fresh seeds among `liveSeeds` (gone seeds excluded) when none of the elected is left. */
  elect (liveSeeds: readonly string[]): void {
    if (!this.needsElection) return
    this.fresh = electForColdTask(this.init.taskKey, liveSeeds.filter(seed => !this.gone.has(seed)))
    // Fresh seeds came from live connections: they can be seen to go.
    for (const seed of this.fresh) if (seed !== this.init.self) this.seen.add(seed)
    this.reassign()
  }

  /**
   * `peer` holds piece `index` now (its `have`, a piece from it): progress on its share when it
   * owns that piece. Pieces of other shares say nothing about its origin fetches. `first`: no
   * other peer was known to hold the piece, so the owner fetched it from the origin; only such
   * pieces count for its rate (`progressRate`), not those of its share another seed took.
   */
  progressed (peer: string, index: number, first = true): void {
    if (this.owners[index] !== peer) return
    this.progressAt.set(peer, this.now())
    if (!first) return
    let meter = this.progressRates.get(peer)
    if (meter === undefined) this.progressRates.set(peer, meter = new ThroughputMeter({ now: this.now, windowMs: 3000 }))
    meter.add(1)
  }

  /** Whether `seed` announced a piece of its share that it fetched (see `progressed`). */
  announcedAny (seed: string): boolean {
    return this.progressRates.has(seed)
  }

  /** Pieces of its share `seed` fetched per ms lately, as its announcements tell (0 before the first). */
  progressRate (seed: string): number {
    return this.progressRates.get(seed)?.rate() ?? 0
  }

  /** The live seeds that own pieces now (self among them if it does), in no particular order. */
  liveOwners (): readonly string[] {
    return this.ownerSet
  }

  /** The live seed that fetches piece `index` from the origin, if any. */
  ownerOf (index: number): string | undefined {
    return this.owners[index]
  }

  /** Whether this node took piece `index` over from a gone seed (it fetches it from the origin at once). */
  tookOver (index: number): boolean {
    const owner = this.owners[index]
    return owner !== undefined && owner === this.init.self && this.original[index] !== this.init.self
  }

  /**
   * Whether a node that does not own piece `index` may fall back to the origin for it (the stall
   * rule applies): no live seed owns it, or its owner showed no progress for `stallMs`.
   */
  ownerStalled (index: number): boolean {
    const owner = this.owners[index]
    if (owner === undefined) return true
    if (owner === this.init.self) return false
    return this.now() - (this.progressAt.get(owner) ?? -Infinity) > this.init.stallMs
  }

  private live (seeds: readonly string[]): string[] {
    return seeds.filter(seed => !this.gone.has(seed))
  }

  private reassign (): void {
    const at = this.now()
    const before = this.owners
    this.owners = this.compute()
    this.ownerSet = distinctOwners(this.owners)
    // A seed that takes over a share gets `stallMs` from now to show progress on it.
    this.owners.forEach((owner, index) => {
      if (owner !== undefined && owner !== before[index]) this.progressAt.set(owner, Math.max(at, this.progressAt.get(owner) ?? at))
    })
  }

  private compute (): Array<string | undefined> {
    const { taskKey, pieceCount } = this.init
    const owners = new Array<string | undefined>(pieceCount).fill(undefined)
    const liveElected = this.live(this.elected)
    if (liveElected.length === 0) {
      const liveFresh = this.live(this.fresh)
      for (const seed of liveFresh) for (const index of shareOf(taskKey, liveFresh, seed, pieceCount)) owners[index] = seed
      return owners
    }
    for (const seed of this.elected) {
      const share = shareOf(taskKey, this.elected, seed, pieceCount)
      if (!this.gone.has(seed)) {
        for (const index of share) owners[index] = seed
        continue
      }
      // The gone seed's share, split among the live elected seeds as a task is split.
      for (const heir of liveElected) {
        for (const position of shareOf(taskKey, liveElected, heir, share.length)) owners[share[position]!] = heir
      }
    }
    return owners
  }
}

function distinctOwners (owners: ReadonlyArray<string | undefined>): string[] {
  return [...new Set(owners.filter((owner): owner is string => owner !== undefined))]
}
