import { hashBytes, merkleRoot, type BlockLayout } from './blocks.js'

/**
 * The sha256 of every block of a task, and which are known. A piece's block hashes are known
 * only once they agree with the piece's root (or were computed from bytes that matched the
 * piece's digest), so a known hash is a trusted one. Serialised as 32 bytes per block slot
 * (the store keeps them beside the data file).
 */
export class BlockHashes {
  readonly layout: BlockLayout
  private readonly hashes: Uint8Array
  private readonly known: Uint8Array
  /** Hex root of each piece whose block hashes are all known (computed once, when they became known). */
  private readonly roots: Array<string | undefined>
  /** Pieces whose hashes changed since `takeDirty`: the store must write them before the metadata claims them. */
  private dirty = new Set<number>()

  constructor (layout: BlockLayout) {
    this.layout = layout
    this.hashes = new Uint8Array(layout.blockCount * hashBytes)
    this.known = new Uint8Array(layout.blockCount)
    this.roots = new Array<string | undefined>(layout.plan.pieceCount)
  }

  /** The expected hash of global block `block`, undefined when not known. */
  get (block: number): Uint8Array | undefined {
    if (this.known[block] !== 1) return undefined
    return this.hashes.subarray(block * hashBytes, (block + 1) * hashBytes)
  }

  /** Every block hash of `piece`, or undefined when any is unknown. */
  pieceHashes (piece: number): Uint8Array[] | undefined {
    const first = piece * this.layout.blocksPerPiece
    const result: Uint8Array[] = []
    for (let block = first; block < first + this.layout.blocksIn(piece); block++) {
      const hash = this.get(block)
      if (hash === undefined) return undefined
      result.push(hash)
    }
    return result
  }

  /** Hex Merkle root of `piece`, undefined while any of its block hashes is unknown. */
  rootOf (piece: number): string | undefined {
    return this.roots[piece]
  }

  /** Records the trusted block hashes of a whole piece. */
  setPiece (piece: number, hashes: readonly Uint8Array[]): void {
    if (hashes.length !== this.layout.blocksIn(piece)) throw new RangeError(`piece ${piece} has ${this.layout.blocksIn(piece)} blocks, not ${hashes.length}`)
    const first = piece * this.layout.blocksPerPiece
    hashes.forEach((hash, index) => {
      this.hashes.set(hash, (first + index) * hashBytes)
      this.known[first + index] = 1
    })
    this.roots[piece] = merkleRoot(hashes).toString('hex')
    this.dirty.add(piece)
  }

  /**
   * Adopts the stored hashes of `piece` (from `stored`, the serialised table) if their root is
   * `root`; returns whether they were adopted. Hashes that disagree stay unknown.
   */
  adopt (piece: number, stored: Uint8Array, root: string | null | undefined): boolean {
    if (root === null || root === undefined) return false
    const first = piece * this.layout.blocksPerPiece
    const count = this.layout.blocksIn(piece)
    if (stored.length < (first + count) * hashBytes) return false
    const hashes = Array.from({ length: count }, (_, index) => stored.subarray((first + index) * hashBytes, (first + index + 1) * hashBytes))
    if (merkleRoot(hashes).toString('hex') !== root) return false
    hashes.forEach((hash, index) => {
      this.hashes.set(hash, (first + index) * hashBytes)
      this.known[first + index] = 1
    })
    this.roots[piece] = root
    return true
  }

  forget (piece: number): void {
    const first = piece * this.layout.blocksPerPiece
    this.known.fill(0, first, first + this.layout.blocksPerPiece)
    this.roots[piece] = undefined
    this.dirty.delete(piece)
  }

  /**
   * What changed since the last call, as serialised bytes for the store: one span from the
   * first to the last changed piece, so a checkpoint is one write however scattered the pieces
   * landed. Slots in between that are not known go along as they are: a stored hash is trusted
   * only where it agrees with its piece's root (`adopt`).
   */
  takeDirty (): Array<{ firstBlock: number, bytes: Uint8Array }> {
    if (this.dirty.size === 0) return []
    let first = Number.POSITIVE_INFINITY
    let last = 0
    for (const piece of this.dirty) {
      first = Math.min(first, piece)
      last = Math.max(last, piece)
    }
    this.dirty = new Set()
    const firstBlock = first * this.layout.blocksPerPiece
    const end = last * this.layout.blocksPerPiece + this.layout.blocksIn(last)
    return [{ firstBlock, bytes: this.hashes.slice(firstBlock * hashBytes, end * hashBytes) }]
  }
}
