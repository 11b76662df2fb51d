/**
 * Which pieces of another elected seed's share this seed fetches from the origin once its own
 * share is done: the ones that seed is far from reaching.
 *
 * Shares are fixed by the election (rendezvous.ts) and every seed paces its share to its uplink
 * (share-pace.ts), so a seed with a slow uplink falls behind on its share. A seed that finished
 * its own takes the other's from the far end, while the owner goes on from the near end; the
 * owner skips the pieces a peer already holds, so the two meet without fetching a piece twice.
 *
 * - An owner's cursor is the first piece of its share it does not hold (owners fetch their share
 *   in order). Only pieces at least `margin(owner)` positions past the cursor are taken: the owner
 *   may be fetching a few from the cursor on, and announces pieces a little late (`stealMargin`).
 * - Only from owners that skip pieces a peer holds (`mayTakeFrom`): an older release fetches its
 *   whole share whatever others hold, and a piece taken from it would cross the origin twice.
 * - Order: the owner with the most pieces past its margin first, each share from its far end.
 *
 * Pure: the caller says who owns what (ShareHandover) and what is held.
 */
export interface ShareStealInput {
  pieceCount: number
  /** This node's peer id. */
  self: string
  /** The live seed that fetches piece `index` from the origin, if any (ShareHandover.ownerOf). */
  ownerOf: (index: number) => string | undefined
  /** Whether `owner` holds piece `index`, as far as this node knows. */
  ownerHolds: (owner: string, index: number) => boolean
  /** Whether piece `index` needs no origin fetch by this node: held here or by a peer, or being fetched. */
  taken: (index: number) => boolean
  /** Whether pieces of `owner`'s share may be taken (it skips share pieces a peer holds). */
  mayTakeFrom: (owner: string) => boolean
  /** Share positions past the owner's cursor that are left to it (`stealMargin`). */
  margin: (owner: string) => number
}

export interface StealMarginInput {
  /** Pieces of its share the owner announced lately, per ms. */
  ownerPiecesPerMs: number
  /** What one origin piece takes here, ms; undefined before one was fetched. */
  originPieceMs: number | undefined
}

export interface StealMarginInit {
  /** How late an owner's `have` reaches this node: the flush interval and a gossip hop. @default 300 */
  haveLagMs?: number
  /** The time of an origin piece assumed before one was timed here. @default 1000 */
  defaultPieceMs?: number
}

/**
 * Positions past an owner's cursor left to it: what it may have fetched or be fetching that we
 * cannot know of yet. By Little's law, its rate × (the time a piece takes, × 1.5 for jitter, plus
 * the lag of its announcements), plus 2: the piece it starts before our `have` reaches it, and a
 * rounding. A paced owner (slow uplink, a piece every few seconds) thus keeps 2 or 3, a fast one far
 * more (nothing of its share is worth taking then).
 */
export function stealMargin (input: StealMarginInput, init: StealMarginInit = {}): number {
  const pieceMs = input.originPieceMs ?? init.defaultPieceMs ?? 1000
  return 2 + Math.ceil(input.ownerPiecesPerMs * (1.5 * pieceMs + (init.haveLagMs ?? 300)))
}

export function stealablePieces (input: ShareStealInput): number[] {
  const shares = new Map<string, number[]>()
  for (let index = 0; index < input.pieceCount; index++) {
    const owner = input.ownerOf(index)
    if (owner === undefined || owner === input.self) continue
    const share = shares.get(owner)
    if (share === undefined) shares.set(owner, [index])
    else share.push(index)
  }
  const perOwner: number[][] = []
  for (const [owner, share] of shares) {
    if (!input.mayTakeFrom(owner)) continue
    const cursor = share.findIndex(index => !input.ownerHolds(owner, index))
    if (cursor < 0) continue
    const far: number[] = []
    const margin = input.margin(owner)
    for (let position = share.length - 1; position >= cursor + margin; position--) {
      const index = share[position]!
      if (!input.taken(index)) far.push(index)
    }
    if (far.length > 0) perOwner.push(far)
  }
  return perOwner.sort((a, b) => b.length - a.length).flat()
}
