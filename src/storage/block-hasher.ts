import type { BlockLayout } from './blocks.js'
import { hashBlock, hashParts, hashStream, isShared, ownsMemory, type HashStream } from './hash-pool.js'

/** Blocks of one piece being hashed at once before `update` waits. */
const maxBlocksInFlight = 4

export interface PieceBlockHasherInit {
  /**
   * Also compute the whole piece's sha256 (what 0.1.0 peers verify, and what a holder without
   * block roots can be checked against): a second hash of every byte, so only when needed.
   * @default true
   */
  piece?: boolean
}

/**
 * Hashes one piece's bytes as they arrive in order: each block's sha256 and (when asked) the
 * whole piece's sha256, both on a hashing thread in one trip per block
 * (hash-pool.ts), so the event loop hashes no byte. A block goes there as the chunks it arrived
 * in, not gathered: chunks in shared memory are shared, chunks the caller gives up are moved,
 * only the rest is copied.
 */
export class PieceBlockHasher {
  /** The piece's running sha256, opened with its first block. */
  private piece?: HashStream
  private readonly layout: BlockLayout
  private readonly first: number
  private readonly count: number
  private chunks: Buffer[] = []
  /** Chunks of `chunks` whose memory may move to the hashing thread. */
  private movable = new Set<Buffer>()
  private bytes = 0
  private readonly digests: Array<Promise<Buffer>> = []
  private readonly withPiece: boolean
  /** Waiting for the block now being gathered to be sealed (its digest) or dropped (undefined). */
  private sealWaiters: Array<(digest?: Promise<Buffer>) => void> = []

  constructor (layout: BlockLayout, piece: number, init: PieceBlockHasherInit = {}) {
    this.withPiece = init.piece ?? true
    this.layout = layout
    this.first = piece * layout.blocksPerPiece
    this.count = layout.blocksIn(piece)
  }

  /**
   * Takes the piece's next bytes. With `giveUp`, the caller needs `chunk` no more once this
   * returns, so memory that is the chunk's alone may move to the hashing thread (detached here).
   */
  async update (chunk: Buffer, giveUp = false): Promise<void> {
    // Where the chunk's bytes fall: parts of consecutive blocks.
    const parts: Array<{ part: Buffer, seals: boolean }> = []
    let bytes = this.bytes
    let block = this.digests.length
    for (let offset = 0; offset < chunk.length;) {
      if (block >= this.count) throw new RangeError('more bytes than the piece holds')
      const take = Math.min(this.layout.size(this.first + block) - bytes, chunk.length - offset)
      parts.push({ part: chunk.subarray(offset, offset + take), seals: bytes + take === this.layout.size(this.first + block) })
      offset += take
      bytes += take
      if (parts[parts.length - 1]!.seals) {
        block++
        bytes = 0
      }
    }
    // Memory given up moves with the largest part; the other parts of the chunk (a chunk that
    // straddles blocks) are copied now, while the memory is still here.
    const moves = giveUp && !isShared(chunk) && ownsMemory(chunk)
    let largest = 0
    if (moves) parts.forEach(({ part }, index) => { if (part.length > parts[largest]!.part.length) largest = index })
    const kept = parts.map(({ part }, index) => !moves || index === largest ? part : Buffer.from(new Uint8Array(part).buffer))
    parts.forEach(({ seals }, index) => {
      const part = kept[index]!
      if (moves) this.movable.add(part)
      this.chunks.push(part)
      this.bytes += part.length
      if (seals) this.seal()
    })
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

  /**
   * The sha256 of each block of the piece and (if asked for) of the whole piece; rejects when
   * bytes are missing.
   */
  async digest (): Promise<{ piece?: string, blocks: Buffer[] }> {
    // An empty piece is one empty block.
    if (this.digests.length === 0 && this.count === 1 && this.layout.size(this.first) === 0) this.seal()
    if (this.digests.length !== this.count) {
      this.drop()
      throw new RangeError(`piece has ${this.digests.length} of ${this.count} blocks`)
    }
    const blocks = await Promise.all(this.digests)
    if (this.piece === undefined) return { blocks }
    return { piece: (await this.piece.digest()).toString('hex'), blocks }
  }

  /**
   * Resolves once every byte given to `update` so far has been read by the hashing thread, or
   * will never be (dropped); never rejects. Until then the caller's memory under those bytes
   * may still be read (a view into shared memory is hashed where it lies): memory to be reused
   * waits for this.
   */
  async hashed (): Promise<void> {
    const waits: Array<Promise<unknown>> = [...this.digests]
    if (this.chunks.length > 0) {
      waits.push(new Promise<void>((resolve) => {
        this.sealWaiters.push((digest) => { void Promise.allSettled([digest]).then(() => { resolve() }) })
      }))
    }
    await Promise.allSettled(waits)
  }

  /** Forgets the piece's running hash and the bytes of a block not yet whole (a fetch that failed). */
  drop (): void {
    this.piece?.drop()
    this.chunks = []
    this.movable = new Set()
    this.bytes = 0
    this.wakeSealWaiters()
  }

  private seal (): void {
    if (this.withPiece) this.piece ??= hashStream()
    const digest = this.piece === undefined ? hashParts(this.chunks, this.movable) : this.piece.blockParts(this.chunks, this.movable)
    digest.catch(() => {})
    this.digests.push(digest)
    this.chunks = []
    this.movable = new Set()
    this.bytes = 0
    this.wakeSealWaiters(digest)
  }

  private wakeSealWaiters (digest?: Promise<Buffer>): void {
    const waiters = this.sealWaiters
    this.sealWaiters = []
    for (const waiter of waiters) waiter(digest)
  }

  private sealBuffer (block: Buffer, returned?: (block: Buffer) => void): void {
    if (this.withPiece) this.piece ??= hashStream()
    const hashed = this.piece === undefined ? hashBlock(block) : this.piece.block(block)
    const digest = hashed.then(({ data, digest }) => {
      returned?.(data)
      return digest
    })
    digest.catch(() => {})
    this.digests.push(digest)
  }
}
