import type { BlockLayout } from './blocks.js'
import { hashStream, type HashStream } from './hash-pool.js'

/** Blocks of one piece being hashed at once before `update` waits. */
const maxBlocksInFlight = 4

/**
 * Hashes one piece's bytes as they arrive in order: each block's sha256 and the whole piece's
 * sha256 (what 0.1.0 peers verify), both on a hashing thread from one gathered copy of each
 * block (hash-pool.ts), so the event loop copies each byte once and hashes none.
 */
export class PieceBlockHasher {
  /** The piece's running sha256, opened with its first block. */
  private piece?: HashStream
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

  async update (chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length;) {
      if (this.digests.length >= this.count) throw new RangeError('more bytes than the piece holds')
      const take = Math.min(this.layout.size(this.first + this.digests.length) - this.bytes, chunk.length - offset)
      this.chunks.push(chunk.subarray(offset, offset + take))
      this.bytes += take
      offset += take
      if (this.bytes === this.layout.size(this.first + this.digests.length)) this.seal()
    }
    // Bounded: a thread slower than the network holds the download back, not the memory.
    const waiting = this.digests.length - maxBlocksInFlight
    if (waiting > 0) await this.digests[waiting - 1]
  }

  /**
   * A whole block, given away: a buffer that owns its memory moves to the hashing thread with
   * no copy (the caller must not touch it again; `returned` gets it back once hashed, to be
   * reused). Anything else goes through `update`.
   */
  async updateBlock (block: Buffer, returned?: (block: Buffer) => void): Promise<void> {
    if (this.bytes > 0 || this.digests.length >= this.count || block.length !== this.layout.size(this.first + this.digests.length)) {
      await this.update(block)
      return
    }
    this.sealBuffer(block, returned)
    const waiting = this.digests.length - maxBlocksInFlight
    if (waiting > 0) await this.digests[waiting - 1]
  }

  /** Blocks whole so far (from the piece's start). */
  get sealed (): number {
    return this.digests.length
  }

  /** The hashes of the first `count` blocks (all whole already). */
  async sealedHashes (count: number): Promise<Buffer[]> {
    return await Promise.all(this.digests.slice(0, count))
  }

  /** The sha256 of the whole piece and of each of its blocks; rejects when bytes are missing. */
  async digest (): Promise<{ piece: string, blocks: Buffer[] }> {
    // An empty piece is one empty block.
    if (this.digests.length === 0 && this.count === 1 && this.layout.size(this.first) === 0) this.seal()
    if (this.digests.length !== this.count) {
      this.drop()
      throw new RangeError(`piece has ${this.digests.length} of ${this.count} blocks`)
    }
    const blocks = await Promise.all(this.digests)
    return { piece: (await this.piece!.digest()).toString('hex'), blocks }
  }

  /** Forgets the piece's running hash (a fetch that failed). */
  drop (): void {
    this.piece?.drop()
  }

  private seal (): void {
    // Gathered into one buffer of its own, which moves to the hashing thread (the caller's chunks stay put).
    this.sealBuffer(Buffer.concat(this.chunks, this.bytes))
    this.chunks = []
    this.bytes = 0
  }

  private sealBuffer (block: Buffer, returned?: (block: Buffer) => void): void {
    this.piece ??= hashStream()
    const digest = this.piece.block(block).then(({ data, digest }) => {
      returned?.(data)
      return digest
    })
    digest.catch(() => {})
    this.digests.push(digest)
  }
}
