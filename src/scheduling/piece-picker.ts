import { Bitmap } from '../storage/bitmap.js'
import type { FailureReason } from './peer-scores.js'
import { lateness, latePolicyDefaults, type LatePolicy } from './late-request.js'

/**
 * Which piece to ask which peer for, for one task on one node. Pure decision logic: no network,
 * no disk, no timers. Randomness and time are injected, so a seeded `random` and a fake `now`
 * make every decision reproducible.
 *
 * The network layer drives it:
 * 1. report what peers hold: `peerBitmap` (metadata answer), `peerHas` / `peerLacks` (`have` and
 *    withdrawal messages), `peerGone` (disconnect);
 * 2. ask `next(peerId)` until it returns undefined, calling `requested(peerId, index)` for each
 *    request actually sent (`next` only proposes; it reserves nothing);
 * 3. report the outcome: `completed` (then cancel the duplicates it returns) or `failed`; poll
 *    `expired()` and report each as a `timeout`;
 * 4. fetch `missingWithNoPeer()` from the origin after a grace period, reporting them with `held`.
 *
 * Endgame: in the last few pieces, a piece already in flight may be asked of a second holder,
 * but only when its request is late (`lateness`, late-request.ts): a duplicate costs the second
 * holder's uplink a whole piece, which the swarm needs for other nodes.
 *
 * Each `next` scans the pieces once: O(pieceCount), a few thousand at most with the automatic
 * piece size (see src/task/piece-plan.ts).
 */

/** The part of PeerScores the picker reads: banned peers are offered nothing. */
export interface BanList {
  isBanned: (peerId: string) => boolean
}

/**
 * Measured rates of the requesters (peers, and whatever else the caller records requests
 * under, e.g. the origin), read by the endgame to judge whether a request is late.
 */
export interface RequesterRates {
  /** Bytes per ms a whole piece took from this requester (request to verified); undefined: not measured. */
  bytesPerMs: (peerId: string) => number | undefined
}

export interface PiecePickerComponents {
  /** When absent, no peer is ever banned. */
  scores?: BanList
  /** When absent, every requester counts as not measured (late only after `unmeasuredLateMs`). */
  rates?: RequesterRates
}

/** Also the endgame's `LatePolicy` (late-request.ts), each field optional. */
export interface PiecePickerInit extends Partial<LatePolicy> {
  pieceCount: number
  /** Pieces already held (copied, not kept). @default none */
  held?: Bitmap
  /** Requests one peer may have outstanding. @default 4 */
  maxInFlightPerPeer?: number
  /**
   * Endgame starts when at most this many pieces are missing, and at most `endgameShare` of the
   * pieces (never fewer than one): the last 4 pieces of a large file, the last 2 of a 16-piece
   * one, not a quarter of it. 0: no endgame. @default 4
   */
  endgameThreshold?: number
  /** The largest share of the pieces the endgame spans (see `endgameThreshold`). @default 1/8 */
  endgameShare?: number
  /** Peers one piece may be requested from at once, in endgame. @default 2 */
  maxRequestersPerPiece?: number
  /** Bytes of piece `index` (the last may be shorter); lateness is judged in time = bytes ÷ rate. @default 4 MiB each */
  pieceBytes?: number | ((index: number) => number)
  /** Age after which `expired()` reports a request. @default 30_000 */
  requestTimeoutMs?: number
  /** Uniform in [0, 1); breaks ties between equally rare pieces. @default Math.random */
  random?: () => number
  /**
   * Asked at each choice: when true, equally rare pieces go lowest index first instead of at
   * random. Random ties spread the pieces of nodes downloading together, so they can trade;
   * with nobody to trade with, file order costs nothing and lets the whole-file sha256 hash
   * the blocks as they land instead of reading them back. @default never
   */
  inOrder?: () => boolean
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
}

/** An outstanding request. `since` is the `now()` at which it was recorded. */
export interface PieceRequest {
  peerId: string
  index: number
  since: number
}

const defaults = {
  maxInFlightPerPeer: 4,
  endgameThreshold: 4,
  endgameShare: 1 / 8,
  maxRequestersPerPiece: 2,
  pieceBytes: 4 * 2 ** 20,
  requestTimeoutMs: 30_000
} as const

export class PiecePicker {
  readonly pieceCount: number
  private readonly scores: BanList | undefined
  private readonly rates: RequesterRates | undefined
  private readonly maxInFlightPerPeer: number
  /** Endgame when at most this many pieces are missing. */
  private readonly endgameSpan: number
  private readonly maxRequestersPerPiece: number
  private readonly pieceBytes: (index: number) => number
  private readonly late: LatePolicy
  private readonly requestTimeoutMs: number
  private readonly random: () => number
  private readonly inOrder: () => boolean
  private readonly now: () => number
  private readonly own: Bitmap
  /** Our view of each connected peer's pieces. */
  private readonly peers = new Map<string, Bitmap>()
  /** availability[i]: how many known peers hold piece i (banned ones included). */
  private readonly availability: Uint32Array
  /** piece → (peer → time requested). */
  private readonly inFlight = new Map<number, Map<string, number>>()
  /** peer → pieces requested from it. */
  private readonly inFlightByPeer = new Map<string, Set<number>>()
  private readonly wantedPieces = new Set<number>()

  constructor (components: PiecePickerComponents, init: PiecePickerInit) {
    const { pieceCount } = init
    if (!Number.isInteger(pieceCount) || pieceCount < 1) throw new RangeError(`pieceCount must be a positive integer, got ${pieceCount}`)
    if (init.held !== undefined && init.held.size !== pieceCount) throw new RangeError(`held bitmap has ${init.held.size} pieces, expected ${pieceCount}`)
    this.pieceCount = pieceCount
    this.scores = components.scores
    this.rates = components.rates
    this.maxInFlightPerPeer = init.maxInFlightPerPeer ?? defaults.maxInFlightPerPeer
    const threshold = init.endgameThreshold ?? defaults.endgameThreshold
    const share = init.endgameShare ?? defaults.endgameShare
    this.endgameSpan = threshold <= 0 ? 0 : Math.min(threshold, Math.max(1, Math.floor(pieceCount * share)))
    this.maxRequestersPerPiece = init.maxRequestersPerPiece ?? defaults.maxRequestersPerPiece
    const pieceBytes = init.pieceBytes ?? defaults.pieceBytes
    this.pieceBytes = typeof pieceBytes === 'number' ? () => pieceBytes : pieceBytes
    this.late = {
      lateSlack: init.lateSlack ?? latePolicyDefaults.lateSlack,
      fasterBy: init.fasterBy ?? latePolicyDefaults.fasterBy,
      minLateMs: init.minLateMs ?? latePolicyDefaults.minLateMs,
      unmeasuredLateMs: init.unmeasuredLateMs ?? latePolicyDefaults.unmeasuredLateMs
    }
    this.requestTimeoutMs = init.requestTimeoutMs ?? defaults.requestTimeoutMs
    this.random = init.random ?? Math.random
    this.inOrder = init.inOrder ?? (() => false)
    this.now = init.now ?? Date.now
    this.own = init.held === undefined ? new Bitmap(pieceCount) : copy(init.held)
    this.availability = new Uint32Array(pieceCount)
  }

  // ---- our own pieces -------------------------------------------------------------------

  /**
   * We now hold `index` (from a peer, the origin or disk). Returns the peers that still had it
   * in flight, so the caller can cancel those requests.
   */
  held (index: number): string[] {
    this.check(index)
    this.own.set(index)
    this.wantedPieces.delete(index)
    const requesters = this.inFlight.get(index)
    if (requesters === undefined) return []
    this.inFlight.delete(index)
    for (const peerId of requesters.keys()) this.forgetRequest(peerId, index)
    return [...requesters.keys()]
  }

  isHeld (index: number): boolean {
    return this.own.has(index)
  }

  get complete (): boolean {
    return this.own.complete
  }

  /** Pieces we still lack. */
  get remaining (): number {
    return this.pieceCount - this.own.count
  }

  /** Few pieces left: `next` may propose a piece already in flight from another peer, if late. */
  get endgame (): boolean {
    return this.remaining > 0 && this.remaining <= this.endgameSpan
  }

  /** A client is blocked on `index`: it goes before rarity, lowest index first. */
  wanted (index: number): void {
    this.check(index)
    if (!this.own.has(index)) this.wantedPieces.add(index)
  }

  /** The client stopped waiting for `index` (e.g. it disconnected). */
  unwanted (index: number): void {
    this.wantedPieces.delete(index)
  }

  // ---- what peers hold ------------------------------------------------------------------

  /** Replace our view of `peerId`'s pieces (the bitmap is copied, not kept). */
  peerBitmap (peerId: string, bitmap: Bitmap): void {
    if (bitmap.size !== this.pieceCount) throw new RangeError(`peer bitmap has ${bitmap.size} pieces, expected ${this.pieceCount}`)
    this.dropPeerPieces(peerId)
    const view = copy(bitmap)
    this.peers.set(peerId, view)
    for (let index = 0; index < this.pieceCount; index++) if (view.has(index)) this.availability[index]!++
  }

  /** `peerId` announced `index` (a `have`). */
  peerHas (peerId: string, index: number): void {
    this.check(index)
    const view = this.view(peerId)
    if (view.has(index)) return
    view.set(index)
    this.availability[index]!++
  }

  /** `peerId` withdrew `index`, or refused it: do not ask it for that piece again until it re-announces. */
  peerLacks (peerId: string, index: number): void {
    this.check(index)
    const view = this.peers.get(peerId)
    if (view === undefined || !view.has(index)) return
    view.clear(index)
    this.availability[index]!--
  }

  /** `peerId` disconnected. Returns the pieces it had in flight, now free to request elsewhere. */
  peerGone (peerId: string): number[] {
    this.dropPeerPieces(peerId)
    this.peers.delete(peerId)
    const pending = [...(this.inFlightByPeer.get(peerId) ?? [])]
    for (const index of pending) this.dropRequest(peerId, index)
    return pending.sort((a, b) => a - b)
  }

  /** Pieces we lack that no connected, unbanned peer holds: candidates for the origin. */
  missingWithNoPeer (): number[] {
    const banned = [...this.peers].filter(([peerId]) => this.isBanned(peerId)).map(([, view]) => view)
    const result: number[] = []
    for (let index = 0; index < this.pieceCount; index++) {
      if (this.own.has(index)) continue
      const bannedHolders = banned.reduce((sum, view) => sum + (view.has(index) ? 1 : 0), 0)
      if (this.availability[index]! - bannedHolders === 0) result.push(index)
    }
    return result
  }

  /** Whether `peerId` is known to hold piece `index` (its bitmap and `have`s). */
  peerHolds (peerId: string, index: number): boolean {
    this.check(index)
    return this.peers.get(peerId)?.has(index) === true
  }

  /** Peers known to hold piece `index`, banned ones left out. O(peers). */
  holdersOf (index: number): string[] {
    this.check(index)
    if (this.availability[index] === 0) return []
    const holders: string[] = []
    for (const [peerId, view] of this.peers) if (view.has(index) && !this.isBanned(peerId)) holders.push(peerId)
    return holders
  }

  // ---- choosing -------------------------------------------------------------------------

  /**
   * The piece to request from `peerId` now, or undefined (peer unknown or banned, its pipeline
   * full, or nothing it holds is worth asking for). In order of preference:
   * 1. a wanted piece nobody is fetching, lowest index first; but of a peer that alone holds a
   *    piece we lack, only a wanted piece it alone holds: its uplink is the only way to such
   *    pieces (an elected seed's fresh ones), so a wanted piece others hold is asked of them;
   * 2. the rarest piece nobody is fetching, random among equally rare ones (lowest index first
   *    while `inOrder` says so);
   * 3. in endgame only, a piece already in flight from other peers (fewer than
   *    `maxRequestersPerPiece` of them) whose every request is late (`lateness`): wanted first,
   *    then fewest requesters, then the most time a duplicate may save, then the oldest request.
   * Never a piece we hold, the peer lacks, or the peer is already fetching for us.
   */
  next (peerId: string): number | undefined {
    const view = this.peers.get(peerId)
    if (view === undefined || this.own.complete || this.isBanned(peerId)) return undefined
    if (this.inFlightCount(peerId) >= this.maxInFlightPerPeer) return undefined
    const wanted = this.pickWanted(view)
    if (wanted !== undefined && (this.availability[wanted] === 1 || !this.holdsSolePiece(view))) return wanted
    return this.pickRarest(view) ?? (this.endgame ? this.pickDuplicate(peerId, view) : undefined)
  }

  // ---- requests -------------------------------------------------------------------------

  /** A request for `index` was sent to `peerId`. Ignored when we already hold the piece. */
  requested (peerId: string, index: number): void {
    this.check(index)
    if (this.own.has(index)) return
    let requesters = this.inFlight.get(index)
    if (requesters === undefined) this.inFlight.set(index, requesters = new Map())
    if (requesters.has(peerId)) return
    requesters.set(peerId, this.now())
    let pieces = this.inFlightByPeer.get(peerId)
    if (pieces === undefined) this.inFlightByPeer.set(peerId, pieces = new Set())
    pieces.add(index)
  }

  /**
   * `peerId` delivered a verified `index`. Returns the other peers that had the same piece in
   * flight (endgame duplicates) so the caller can cancel them; [] when there were none.
   */
  completed (peerId: string, index: number): string[] {
    return this.held(index).filter(other => other !== peerId)
  }

  /**
   * The request for `index` from `peerId` failed; the piece is free to request again. A
   * `refused` piece is also dropped from our view of that peer (see `peerLacks`). Banning is
   * PeerScores' job: report the same failure there.
   */
  failed (peerId: string, index: number, reason: FailureReason): void {
    this.check(index)
    this.dropRequest(peerId, index)
    if (reason === 'refused') this.peerLacks(peerId, index)
  }

  /** Requests older than `requestTimeoutMs`, oldest first. Report each with `failed(…, 'timeout')`. */
  expired (): PieceRequest[] {
    const deadline = this.now() - this.requestTimeoutMs
    const result: PieceRequest[] = []
    for (const [index, requesters] of this.inFlight) {
      for (const [peerId, since] of requesters) if (since <= deadline) result.push({ peerId, index, since })
    }
    return result.sort((a, b) => a.since - b.since || a.index - b.index)
  }

  /** Requests outstanding at `peerId`. */
  inFlightCount (peerId: string): number {
    return this.inFlightByPeer.get(peerId)?.size ?? 0
  }

  // ---- internals ------------------------------------------------------------------------

  private pickWanted (view: Bitmap): number | undefined {
    let best: number | undefined
    for (const index of this.wantedPieces) {
      if (view.has(index) && !this.inFlight.has(index) && (best === undefined || index < best)) best = index
    }
    return best
  }

  /** Whether the peer seen as `view` is the only known holder of a piece we lack and nobody fetches. */
  private holdsSolePiece (view: Bitmap): boolean {
    for (let index = 0; index < this.pieceCount; index++) {
      if (this.availability[index] === 1 && view.has(index) && !this.own.has(index) && !this.inFlight.has(index)) return true
    }
    return false
  }

  private pickRarest (view: Bitmap): number | undefined {
    let rarest = Number.POSITIVE_INFINITY
    let ties: number[] = []
    for (let index = 0; index < this.pieceCount; index++) {
      if (this.own.has(index) || !view.has(index) || this.inFlight.has(index)) continue
      const count = this.availability[index]!
      if (count < rarest) {
        rarest = count
        ties = [index]
      } else if (count === rarest) {
        ties.push(index)
      }
    }
    if (ties.length === 0) return undefined
    if (this.inOrder()) return ties[0]
    return ties[Math.min(ties.length - 1, Math.floor(this.random() * ties.length))]
  }

  /**
   * How late the request for `index` made of `holder` at `since` is (late-request.ts), as
   * `asker`, a holder of the piece that could be asked instead, sees it; undefined: on time.
   */
  private lateness (index: number, holder: string, since: number, asker: string): number | undefined {
    return lateness({
      ageMs: this.now() - since,
      bytes: this.pieceBytes(index),
      holderBytesPerMs: this.rates?.bytesPerMs(holder),
      askerBytesPerMs: this.rates?.bytesPerMs(asker),
      askerIdle: this.inFlightCount(asker) === 0
    }, this.late)
  }

  private pickDuplicate (peerId: string, view: Bitmap): number | undefined {
    let best: DuplicateCandidate | undefined
    for (const [index, requesters] of this.inFlight) {
      if (!view.has(index) || requesters.has(peerId) || requesters.size >= this.maxRequestersPerPiece) continue
      // Late at every holder; it may save as much as the least late of them would take.
      let saves = Number.POSITIVE_INFINITY
      for (const [holder, since] of requesters) saves = Math.min(saves, this.lateness(index, holder, since, peerId) ?? Number.NEGATIVE_INFINITY)
      if (saves === Number.NEGATIVE_INFINITY) continue
      const candidate: DuplicateCandidate = { index, wanted: this.wantedPieces.has(index), requesters: requesters.size, saves, oldest: Math.min(...requesters.values()) }
      if (best === undefined || ranksBefore(candidate, best)) best = candidate
    }
    return best?.index
  }

  private isBanned (peerId: string): boolean {
    return this.scores?.isBanned(peerId) === true
  }

  private view (peerId: string): Bitmap {
    let view = this.peers.get(peerId)
    if (view === undefined) this.peers.set(peerId, view = new Bitmap(this.pieceCount))
    return view
  }

  private dropPeerPieces (peerId: string): void {
    const view = this.peers.get(peerId)
    if (view === undefined) return
    for (let index = 0; index < this.pieceCount; index++) if (view.has(index)) this.availability[index]!--
  }

  private dropRequest (peerId: string, index: number): void {
    const requesters = this.inFlight.get(index)
    if (requesters?.delete(peerId) === true && requesters.size === 0) this.inFlight.delete(index)
    this.forgetRequest(peerId, index)
  }

  private forgetRequest (peerId: string, index: number): void {
    const pieces = this.inFlightByPeer.get(peerId)
    if (pieces?.delete(index) === true && pieces.size === 0) this.inFlightByPeer.delete(peerId)
  }

  private check (index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) throw new RangeError(`piece ${index} outside 0..${this.pieceCount - 1}`)
  }
}

interface DuplicateCandidate { index: number, wanted: boolean, requesters: number, saves: number, oldest: number }

/**
 * Endgame preference: wanted, then fewest requesters, then the most time a duplicate may save
 * (stuck and unmeasured requests first), then the oldest request, then the lowest index.
 */
function ranksBefore (a: DuplicateCandidate, b: DuplicateCandidate): boolean {
  if (a.wanted !== b.wanted) return a.wanted
  if (a.requesters !== b.requesters) return a.requesters < b.requesters
  if (a.saves !== b.saves) return a.saves > b.saves
  if (a.oldest !== b.oldest) return a.oldest < b.oldest
  return a.index < b.index
}

function copy (bitmap: Bitmap): Bitmap {
  return Bitmap.fromBase64(bitmap.size, bitmap.toBase64())
}
