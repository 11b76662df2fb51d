import type { BlockLayout } from './blocks.js'
import { hashBlock } from './hash-pool.js'

/**
 * Hashes one piece's bytes block by block as they arrive in order. Each block's sha256 runs on
 * a hashing thread as soon as the block is whole (hash-pool.ts), so the event loop only gathers
 * buffers; the chunks passed in must not be changed by the caller until `digest` resolves.
 */
export class PieceBlockHasher {
  private readonly layout: BlockLayout
  private readonly first: number
  private readonly count: number
  private chunks: Buffer[] = []
  private bytes = 0
  private readonly digests: Array<Promise<Buffer>> = []

  constructor (layout: BlockLayout, piece: number) {
    this.layout = layout
    this.first = piece * layout.blocksPerPiece
    this.count = layout.blocksIn(piece)
  }

  update (chunk: Buffer): void {
    for (let offset = 0; offset < chunk.length;) {
      if (this.digests.length >= this.count) throw new RangeError('more bytes than the piece holds')
      const take = Math.min(this.layout.size(this.first + this.digests.length) - this.bytes, chunk.length - offset)
      this.chunks.push(chunk.subarray(offset, offset + take))
      this.bytes += take
      offset += take
      if (this.bytes === this.layout.size(this.first + this.digests.length)) this.seal()
    }
  }

  /** Blocks whole so far (from the piece's start). */
  get sealed (): number {
    return this.digests.length
  }

  /** The hashes of the first `count` blocks (all whole already). */
  async sealedHashes (count: number): Promise<Buffer[]> {
    return await Promise.all(this.digests.slice(0, count))
  }

  /** The block hashes of the whole piece; rejects when bytes are missing. */
  async digest (): Promise<Buffer[]> {
    // An empty piece is one empty block.
    if (this.digests.length === 0 && this.count === 1 && this.layout.size(this.first) === 0) this.seal()
    if (this.digests.length !== this.count) throw new RangeError(`piece has ${this.digests.length} of ${this.count} blocks`)
    return await Promise.all(this.digests)
  }

  private seal (): void {
    // Gathered into one buffer of its own, which moves to the hashing thread (the caller's chunks stay put).
    const block = Buffer.concat(this.chunks, this.bytes)
    const digest = hashBlock(block).then(({ digest }) => digest)
    digest.catch(() => {})
    this.digests.push(digest)
    this.chunks = []
    this.bytes = 0
  }
}
