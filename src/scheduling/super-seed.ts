/**
 * Super-seeding, for a node that holds pieces nobody else has yet (an elected seed, or the first
 * host with a piece): rather than advertising everything to everyone, so that every peer asks for
 * the same early pieces, it reveals to each peer a few pieces at a time, those with the fewest
 * known copies first, and reveals more once what it gave has been seen elsewhere (the peer passed
 * it on) or it ran out of distinct pieces to give. Every upload from the seed is then a new piece
 * for the swarm, until every piece is out once.
 *
 * Pure bookkeeping; randomness breaks ties between equally rare pieces. The driver:
 * - `held(i)` when the seed gets piece i (from the origin);
 * - `revealTo(peer)` whenever it may advertise to `peer` (connect, after each upload, on `seen`),
 *   sending a `have` for each piece returned;
 * - `given(peer, i)` after uploading i to peer; `seen(peer, i)` when peer announces i itself;
 *   `peerGone(peer)` on disconnect.
 */

export interface SuperSeederInit {
  pieceCount: number
  /** Pieces revealed to one peer and not yet passed on, at most. @default 2 */
  perPeer?: number
  /** @default Math.random */
  random?: () => number
}

interface PeerView {
  /** Pieces this seed told the peer about. */
  revealed: Set<number>
  /** Pieces the peer is known to hold (given by us, or announced by it). */
  holds: Set<number>
}

export class SuperSeeder {
  readonly pieceCount: number
  private readonly perPeer: number
  private readonly random: () => number
  private readonly own = new Set<number>()
  /** copies[i]: peers known to hold piece i (ours not counted). */
  private readonly copies: Uint32Array
  private readonly peers = new Map<string, PeerView>()

  constructor (init: SuperSeederInit) {
    if (!Number.isInteger(init.pieceCount) || init.pieceCount < 1) throw new RangeError(`pieceCount must be a positive integer, got ${init.pieceCount}`)
    this.pieceCount = init.pieceCount
    this.perPeer = init.perPeer ?? 2
    this.random = init.random ?? Math.random
    this.copies = new Uint32Array(init.pieceCount)
  }

  held (index: number): void {
    this.check(index)
    this.own.add(index)
  }

  /** Every piece this seed holds is out at least once: plain seeding from here on is as good. */
  get spread (): boolean {
    for (const index of this.own) if (this.copies[index] === 0) return false
    return this.own.size > 0
  }

  /**
   * Pieces to advertise to `peerId` now (possibly none): the peer's budget is `perPeer` pieces
   * revealed but not yet seen at any other peer; each pick is the held piece with fewest copies
   * that the peer neither holds nor was shown, ties at random.
   */
  revealTo (peerId: string): number[] {
    const view = this.view(peerId)
    const result: number[] = []
    let outstanding = 0
    for (const index of view.revealed) if (!this.passedOn(peerId, index)) outstanding++
    while (outstanding < this.perPeer) {
      const pick = this.rarestFor(view)
      if (pick === undefined) break
      view.revealed.add(pick)
      result.push(pick)
      outstanding++
    }
    return result
  }

  /** This seed uploaded `index` to `peerId`. */
  given (peerId: string, index: number): void {
    this.check(index)
    this.mark(this.view(peerId), index)
  }

  /** `peerId` announced it holds `index` (from us or anyone). */
  seen (peerId: string, index: number): void {
    this.check(index)
    this.mark(this.view(peerId), index)
  }

  peerGone (peerId: string): void {
    const view = this.peers.get(peerId)
    if (view === undefined) return
    for (const index of view.holds) this.copies[index]!--
    this.peers.delete(peerId)
  }

  /** Known copies of `index` among peers. */
  copiesOf (index: number): number {
    this.check(index)
    return this.copies[index]!
  }

  /** A piece revealed to `peerId` counts as passed on once some other peer holds it too. */
  private passedOn (peerId: string, index: number): boolean {
    const holdsIt = this.peers.get(peerId)?.holds.has(index) === true
    return this.copies[index]! - (holdsIt ? 1 : 0) > 0
  }

  private rarestFor (view: PeerView): number | undefined {
    let fewest = Number.POSITIVE_INFINITY
    let ties: number[] = []
    for (const index of this.own) {
      if (view.revealed.has(index) || view.holds.has(index)) continue
      const count = this.copies[index]!
      if (count < fewest) {
        fewest = count
        ties = [index]
      } else if (count === fewest) {
        ties.push(index)
      }
    }
    if (ties.length === 0) return undefined
    ties.sort((a, b) => a - b)
    return ties[Math.min(ties.length - 1, Math.floor(this.random() * ties.length))]
  }

  private mark (view: PeerView, index: number): void {
    if (view.holds.has(index)) return
    view.holds.add(index)
    this.copies[index]!++
  }

  private view (peerId: string): PeerView {
    let view = this.peers.get(peerId)
    if (view === undefined) this.peers.set(peerId, view = { revealed: new Set(), holds: new Set() })
    return view
  }

  private check (index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) throw new RangeError(`piece ${index} outside 0..${this.pieceCount - 1}`)
  }
}
