import { chooseOriginPieces, type OriginCandidate } from '../scheduling/origin-choice.js'
import type { FallbackInit, FallbackInput } from '../scheduling/origin-fallback.js'
import type { PeerScores } from '../scheduling/peer-scores.js'
import type { PiecePicker } from '../scheduling/piece-picker.js'
import { ThroughputMeter } from '../scheduling/rate-estimator.js'
import { rendezvousWeight } from '../scheduling/rendezvous.js'
import type { ShareHandover } from '../scheduling/share-handover.js'
import type { Task } from './task.js'

/**
 * The glue between a swarm download and `chooseOriginPieces` (docs/scale.md, drop-in 3): it
 * measures what the decision reads (bytes arriving from peers, the time since the swarm last
 * delivered or answered, the origin's rate per connection) and turns the download's state into
 * candidates. The download calls `choose` on every pump; it starts what comes back.
 */

export interface OriginFallbackDriverInit extends FallbackInit {
  /** Origin requests this node may have in flight for the task. */
  originConcurrency: number
  /** Bytes of one origin request (a piece). */
  unitBytes: number
  /** Nodes that want the task now, this one included: the origin is shared among them. */
  wanters: () => number
  /**
   * Rate of one origin connection assumed until one was measured here, bytes per ms. Low on
   * purpose: with it a node waits for the swarm, as a node that just joined should.
   * @default 1000 (about 1 MB/s)
   */
  defaultConnectionBytesPerMs?: number
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
}

/** A swarm download's state, as the fallback reads it (SwarmDownload's fields). */
export interface FallbackDownloadState {
  task: Pick<Task, 'key' | 'length' | 'heldBytes' | 'plan' | 'bitmap' | 'wantedPieces'>
  picker: Pick<PiecePicker, 'holdersOf'>
  scores: Pick<PeerScores, 'score'>
  handover?: Pick<ShareHandover, 'ownerStalled'>
  /** Pieces being fetched for us, from peers or the origin. */
  busy: ReadonlySet<number>
  /** Pieces the origin is fetching for us. */
  fromOrigin: ReadonlySet<number>
  /** Origin requests that may start now. */
  slots: number
  /** This node's peer id: where its pass over the pieces starts. */
  self: string
  /** See CandidateSource.ownersCover. @default false */
  ownersCover?: boolean
}

/** What the download is, when the decision is asked. */
export interface OriginFallbackView {
  remainingBytes: number
  /** Bytes of the pieces the origin is fetching for this download now. */
  originInFlightBytes: number
  /** Origin requests that may start now. */
  slots: number
  /** Missing pieces nobody fetches for us, computed only when the origin has a budget. */
  candidates: () => OriginCandidate[]
}

export class OriginFallbackDriver {
  private readonly init: OriginFallbackDriverInit
  private readonly now: () => number
  private readonly meter: ThroughputMeter
  private readonly startedAt: number
  private lastSwarmProgress: number
  private connectionBytesPerMs: number | undefined

  constructor (init: OriginFallbackDriverInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.meter = new ThroughputMeter({ now: this.now })
    this.startedAt = this.lastSwarmProgress = this.now()
  }

  /** Bytes from a peer arrived (a block). */
  swarmDelivered (bytes: number): void {
    this.meter.add(bytes)
    this.lastSwarmProgress = this.now()
  }

  /** A peer answered that it is busy: the swarm is at work, not silent. */
  swarmAnswered (): void {
    this.lastSwarmProgress = this.now()
  }

  /** One origin request brought `bytes` in `ms`. */
  originFetched (bytes: number, ms: number): void {
    const sample = bytes / Math.max(ms, 1)
    this.connectionBytesPerMs = this.connectionBytesPerMs === undefined ? sample : 0.7 * this.connectionBytesPerMs + 0.3 * sample
  }

  /** One origin request's rate as measured, bytes per ms; undefined until one finished. */
  get measuredConnectionBytesPerMs (): number | undefined {
    return this.connectionBytesPerMs
  }

  /** What this node may expect of the origin: per connection × connections ÷ the nodes that want the task. */
  originBytesPerMs (): number {
    const perConnection = this.connectionBytesPerMs ?? this.init.defaultConnectionBytesPerMs ?? 1000
    return perConnection * this.init.originConcurrency / Math.max(1, this.init.wanters())
  }

  /** The decision's input now. */
  input (remainingBytes: number): FallbackInput {
    return {
      remainingBytes,
      swarmBytesPerMs: this.meter.rate(),
      originBytesPerMs: this.originBytesPerMs(),
      sinceSwarmProgressMs: this.now() - this.lastSwarmProgress,
      unitBytes: this.init.unitBytes
    }
  }

  /** Pieces to fetch from the origin now, for a swarm download in `state`. */
  next (state: FallbackDownloadState): number[] {
    const { task } = state
    return this.choose({
      remainingBytes: task.length - task.heldBytes,
      originInFlightBytes: [...state.fromOrigin].reduce((sum, index) => sum + task.plan.size(index), 0),
      slots: state.slots,
      candidates: () => originCandidates({
        pieceCount: task.plan.pieceCount,
        wanted: task.wantedPieces,
        // Nodes falling back at once start at different pieces.
        start: Number.parseInt(rendezvousWeight(task.key, state.self).slice(0, 8), 16),
        skip: index => task.bitmap.has(index) || state.busy.has(index),
        holders: index => state.picker.holdersOf(index),
        rate: peer => state.scores.score(peer),
        // A live elected seed making progress fetches its own share: nobody else goes for it.
        owned: index => state.handover?.ownerStalled(index) === false,
        ownersCover: state.ownersCover,
        size: index => task.plan.size(index)
      })
    })
  }

  /** Pieces to fetch from the origin now (none while the swarm is on time). */
  choose (view: OriginFallbackView): number[] {
    if (view.slots <= 0) return []
    const input = this.input(view.remainingBytes)
    return chooseOriginPieces({
      ...input,
      originRequestBytesPerMs: input.originBytesPerMs / Math.max(1, this.init.originConcurrency),
      originInFlightBytes: view.originInFlightBytes,
      // A pass over the pieces: only when there is a budget to spend.
      candidates: view.candidates,
      slots: view.slots,
      sinceStartMs: this.now() - this.startedAt
    }, this.init).pieces
  }
}

export interface CandidateSource {
  pieceCount: number
  /** Pieces a client waits for: first. */
  wanted: Iterable<number>
  /** Where this node starts its pass over the other pieces, so that nodes spread out. */
  start: number
  /** Held, or being fetched for us already. */
  skip: (index: number) => boolean
  /** Live, unbanned peers holding the piece. */
  holders: (index: number) => string[]
  /** A peer's measured rate, bytes per ms; undefined when never measured. */
  rate: (peer: string) => number | undefined
  /** A piece of a live elected seed's share (one making progress, or this node's): its owner will fetch it. */
  owned: (index: number) => boolean
  /**
   * Whether every live owner's lag is taken over by another (they pace their shares and take
   * each other's, share-pace.ts and share-steal.ts): then a piece of a live owner's share is
   * left to the swarm even when its only holder, the owner, serves it slowly. Otherwise such a
   * piece may come from the origin when the owner is late (the only relief from a lone slow seed).
   * @default false
   */
  ownersCover?: boolean
  size: (index: number) => number
}

/** The candidates of `chooseOriginPieces`, wanted pieces first, then from `start` round. */
export function originCandidates (source: CandidateSource): OriginCandidate[] {
  const { pieceCount } = source
  const seen = new Set<number>()
  const candidates: OriginCandidate[] = []
  const consider = (index: number): void => {
    if (seen.has(index) || index < 0 || index >= pieceCount) return
    seen.add(index)
    if (source.skip(index)) return
    const owned = source.owned(index)
    // Covered owners' shares are theirs, held or not: a piece taken here as well would cross
    // the origin twice, and another seed takes over what an owner lags.
    if (owned && source.ownersCover === true) return
    const holders = source.holders(index)
    if (holders.length === 0) {
      if (!owned) candidates.push({ index, bytes: source.size(index), holderBytesPerMs: 0 })
      return
    }
    // The best holder's rate; a holder not measured yet may be the fast one (undefined).
    let best: number | undefined = 0
    for (const peer of holders) {
      const rate = source.rate(peer)
      if (rate === undefined) {
        best = undefined
        break
      }
      // A holder that only ever failed is the slowest there is, but still a holder.
      best = Math.max(best, rate > 0 ? rate : Number.MIN_VALUE)
    }
    candidates.push({ index, bytes: source.size(index), holderBytesPerMs: best })
  }
  for (const index of source.wanted) consider(index)
  const start = ((source.start % pieceCount) + pieceCount) % pieceCount
  for (let step = 0; step < pieceCount; step++) consider((start + step) % pieceCount)
  return candidates
}
