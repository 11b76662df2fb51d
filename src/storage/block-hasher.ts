import type { BlockLayout } from './blocks.js'
import { hashBlock, hashBlockFor, hashParts, hashStream, isShared, ownsMemory, type HashStream } from './hash-pool.js'
import type { WholeFeed, WholeFileHash } from './whole-file-hash.js'

/** Blocks of one piece being hashed at once before `update` waits. */
const maxBlocksInFlight = 4

export interface PieceBlockHasherInit {
  /**
   * Also compute the whole piece's sha256 (what 0.1.0 peers verify, and what a holder without
   * block roots can be checked against): a second hash of every byte, so only when needed.
   * @default true
   */
  piece?: boolean
  /**
   * The task's running whole-file sha256: each block is offered to it in the same trip to the
   * hashing thread as its own hash, when the hash wants it (whole-file-hash.ts), so bytes that
   * land in order are never read back from disk. Only blocks that can be trusted are offered:
   * with `trusted` (origin bytes, which the whole-file hash itself checks) or once `expect`
   * gave the block's proven sha256 (the thread offers it only if it matches).
   */
  whole?: WholeFileHash
  /** The bytes are the origin's: offered to `whole` as they are. @default false */
  trusted?: boolean
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
  private readonly whole?: WholeFileHash
  private readonly trusted: boolean
  /** The proven sha256 of each block of the piece (a peer's, checked against the piece's root). */
  private expected?: readonly Uint8Array[]

  constructor (layout: BlockLayout, piece: number, init: PieceBlockHasherInit = {}) {
    this.withPiece = init.piece ?? true
    this.whole = init.whole
    this.trusted = init.trusted ?? false
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

  /**
   * The piece's block hashes, proven against its root: blocks sealed from now on are offered to
   * the whole-file hash, which takes each only if it hashes to its proven hash.
   */
  expect (blocks: readonly Uint8Array[]): void {
    if (blocks.length === this.count) this.expected = blocks
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

  /** How block `block` of the piece is offered to the whole-file hash, if it is. */
  private feedFor (block: number): WholeFeed | undefined {
    const whole = this.whole
    if (whole === undefined) return undefined
    const expect = this.expected?.[block]
    if (!this.trusted && expect === undefined) return undefined
    const global = this.first + block
    const offset = this.layout.start(global)
    if (!whole.wants(offset, this.layout.size(global))) return undefined
    return { hash: whole, offset, ...(expect === undefined ? {} : { expect }) }
  }

  /**
   * The piece's running sha256 is opened beside the whole-file hash when the first block goes
   * there too (one trip feeds both); a piece stream on another thread cannot feed it.
   */
  private openPiece (feed: WholeFeed | undefined): void {
    if (this.withPiece) this.piece ??= feed === undefined ? hashStream() : feed.hash.stream()
  }

  private seal (): void {
    const feed = this.feedFor(this.digests.length)
    this.openPiece(feed)
    const digest = this.piece === undefined ? hashParts(this.chunks, this.movable, feed) : this.piece.blockParts(this.chunks, this.movable, feed)
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
    const feed = this.feedFor(this.digests.length)
    this.openPiece(feed)
    const hashed = this.piece !== undefined ? this.piece.block(block, feed) : feed === undefined ? hashBlock(block) : hashBlockFor(block, feed)
    const digest = hashed.then(({ data, digest }) => {
      returned?.(data)
      return digest
    })
    digest.catch(() => {})
    this.digests.push(digest)
  }
}
