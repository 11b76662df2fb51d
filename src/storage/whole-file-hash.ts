import type { HashStream } from './hash-pool.js'
import type { WholeNews } from './hash-thread.js'

/**
 * Bytes a whole-file hash keeps ahead of its position (blocks that landed before the ones in
 * front of them): enough for the pieces the origin fetches side by side (4 × 4 MiB by default)
 * and a peer's pipelined requests. Farther bytes are read back from disk once they are due.
 */
export const wholeWindowBytes = 16 * 1024 * 1024

/** What a whole-file hash needs of its hashing thread (hash-pool.ts). */
export interface WholeFileHashPort {
  /** The thread the hash lives on: blocks sent to it can feed the hash in the same trip. */
  readonly owner: object
  readonly id: number
  /** A running sha256 on the same thread (a piece's, so its blocks can feed this hash too). */
  stream: () => HashStream
  /** Offers the first `length` bytes of `data` (read back from disk at `offset`); `data` moves there and back. */
  readBack: (data: Buffer, length: number, offset: number) => Promise<Buffer>
  digest: () => Promise<Buffer>
  drop: () => void
}

/** A block's bytes offered to a whole-file hash, sent with the block's own hash. */
export interface WholeFeed {
  hash: WholeFileHash
  /** The block's offset in the file. */
  offset: number
  /** The block's trusted sha256: the bytes are hashed into the file only if they match it. Absent: origin bytes, trusted as they are (the whole-file hash is their check). */
  expect?: Uint8Array
}

/**
 * The main thread's side of a task's running whole-file sha256, which lives on a hashing
 * thread (ordered-hash.ts): the bytes hashed so far and the blocks parked ahead, as the thread
 * last reported them. A download offers each verified block it lands (`wants` says which are
 * worth sending); the whole-file check (task/whole-file-check.ts) reads back from disk only
 * the rest, so bytes landing in order are never read back.
 */
export class WholeFileHash {
  /** Bytes hashed from the file's start, as the thread last said (it may be further on). */
  position = 0
  /** Bytes read back from disk to feed this hash (what landing in order saves). */
  readBackBytes = 0
  readonly length: number
  /** Bytes the thread keeps ahead of the position (wholeWindowBytes). */
  readonly windowBytes: number
  private readonly port: WholeFileHashPort
  private readonly parked = new Set<number>()
  /** Waiting for the position to reach an offset (or for a parked block to give way), one per offset. */
  private waiters = new Map<number, { promise: Promise<void>, wake: () => void }>()
  private dropped = false

  constructor (length: number, windowBytes: number, port: WholeFileHashPort) {
    this.length = length
    this.windowBytes = windowBytes
    this.port = port
  }

  /** The hashing thread this hash lives on. */
  get owner (): object {
    return this.port.owner
  }

  get id (): number {
    return this.port.id
  }

  /**
   * Whether a block of `size` bytes at `offset` is worth offering: not hashed yet, not parked,
   * and within the window ahead of the position.
   */
  wants (offset: number, size: number): boolean {
    return !this.dropped && offset + size > this.position && offset < this.position + this.windowBytes && !this.parked.has(offset)
  }

  /** Whether a block at `offset` waits on the thread for the position to reach it. */
  isParked (offset: number): boolean {
    return this.parked.has(offset)
  }

  /** The nearest parked block after `offset`, if any. */
  nextParked (offset: number): number | undefined {
    let nearest: number | undefined
    for (const at of this.parked) if (at > offset && (nearest === undefined || at < nearest)) nearest = at
    return nearest
  }

  /** A running sha256 on this hash's thread. */
  stream (): HashStream {
    return this.port.stream()
  }

  /** Called by the pool with each reply about this hash. */
  news (news: WholeNews): void {
    if (news.outcome === 'parked') this.parked.add(news.offset)
    for (const at of news.evicted) this.parked.delete(at)
    if (news.position > this.position) this.position = news.position
    for (const at of this.parked) if (at < this.position) this.parked.delete(at)
    for (const [offset, { wake }] of this.waiters) {
      if (news.evicted.length === 0 && offset > this.position) continue
      this.waiters.delete(offset)
      wake()
    }
  }

  /**
   * Resolves once the position reached `offset` (hashing within a piece in flight wakes nobody),
   * a parked block gave way, or the hash was dropped.
   */
  async reached (offset: number): Promise<void> {
    if (this.dropped || this.position >= offset) return
    let waiter = this.waiters.get(offset)
    if (waiter === undefined) {
      let wake!: () => void
      const promise = new Promise<void>((resolve) => { wake = resolve })
      waiter = { promise, wake }
      this.waiters.set(offset, waiter)
    }
    await waiter.promise
  }

  /** Offers bytes read back from disk at `offset`; `data` moves to the thread and comes back. */
  async readBack (data: Buffer, length: number, offset: number): Promise<Buffer> {
    this.readBackBytes += length
    return await this.port.readBack(data, length, offset)
  }

  /** The file's sha256; rejects unless every byte was hashed. */
  async digest (): Promise<Buffer> {
    const digest = await this.port.digest()
    if (this.position !== this.length) throw new RangeError(`whole-file hash ended at ${this.position} of ${this.length} bytes`)
    return digest
  }

  /** Forgets the hash and what it parked (a download that stopped). */
  drop (): void {
    if (this.dropped) return
    this.dropped = true
    this.port.drop()
    for (const { wake } of this.waiters.values()) wake()
    this.waiters.clear()
  }
}
