import { createHash, type Hash } from 'node:crypto'

/**
 * What became of bytes offered to an OrderedHash: hashed (with any parked bytes they
 * unblocked), parked until the hash reaches them, skipped (already hashed or already parked),
 * refused (the block did not hash to what the caller expected) or dropped (no room in the
 * window: the caller reads them back from disk later).
 */
export type OrderedOutcome = 'fed' | 'parked' | 'skipped' | 'refused' | 'dropped'

/**
 * A running sha256 of a file whose bytes are offered by offset, in whatever order they land:
 * bytes at the running position are hashed at once; bytes a little ahead wait in a bounded
 * window (the memory of the nearest blocks is kept, farther ones give way) until the bytes
 * before them arrive. It lives on a hashing thread (hash-thread.ts), so neither the copies of
 * parked bytes nor the hashing touch the event loop. Pure: tested directly
 * (test/unit/whole-file-hash.test.ts).
 */
export class OrderedHash {
  /** Bytes hashed, from the file's start. */
  position = 0
  private readonly hash: Hash = createHash('sha256')
  private readonly windowBytes: number
  /** Bytes ahead of `position` by their offset (never overlapping one another). */
  private readonly parked = new Map<number, Uint8Array>()
  private parkedBytes = 0
  /** Copies made here whose bytes were hashed or gave way, for the next copies (with the parked bytes, at most a window). */
  private readonly spare: Uint8Array[] = []
  private readonly copies = new WeakSet<Uint8Array>()

  constructor (windowBytes: number) {
    this.windowBytes = windowBytes
  }

  /** Bytes waiting in the window. */
  get waiting (): number {
    return this.parkedBytes
  }

  /**
   * Offers `parts` (consecutive, one block or one read) at file offset `offset`. `keep`: the one
   * part is this thread's to keep (moved here), so it is parked as it is; otherwise parked
   * bytes are copied, since the caller reuses its memory once this returns. Offsets of parked
   * blocks that gave way to nearer ones are pushed to `evicted`.
   */
  offer (offset: number, parts: readonly Uint8Array[], keep: boolean, evicted: number[]): OrderedOutcome {
    let size = 0
    for (const part of parts) size += part.byteLength
    const end = offset + size
    if (end <= this.position) return 'skipped'
    if (offset <= this.position) {
      let at = offset
      for (const part of parts) {
        const partEnd = at + part.byteLength
        if (partEnd > this.position) this.hash.update(part.subarray(Math.max(0, this.position - at)))
        at = partEnd
      }
      this.position = end
      this.drain()
      return 'fed'
    }
    if (this.parked.has(offset) || size > this.windowBytes) return this.parked.has(offset) ? 'skipped' : 'dropped'
    while (this.parkedBytes + size > this.windowBytes) {
      // The farthest parked block gives way, if it is farther than these bytes.
      let farthest = -1
      for (const at of this.parked.keys()) if (at > farthest) farthest = at
      if (farthest < offset) return 'dropped'
      this.unpark(farthest)
      evicted.push(farthest)
    }
    const kept = keep && parts.length === 1 ? parts[0]! : this.copy(parts, size)
    this.parked.set(offset, kept)
    this.parkedBytes += size
    return 'parked'
  }

  /** The file's sha256; only once every byte was hashed (`position` is the file's length). */
  digest (): Buffer {
    this.clear()
    return this.hash.digest()
  }

  /** Lets go of the parked bytes. */
  clear (): void {
    this.parked.clear()
    this.parkedBytes = 0
    this.spare.length = 0
  }

  private unpark (offset: number): Uint8Array {
    const bytes = this.parked.get(offset)!
    this.parked.delete(offset)
    this.parkedBytes -= bytes.byteLength
    let spareBytes = this.parkedBytes + bytes.byteLength
    for (const buffer of this.spare) spareBytes += buffer.byteLength
    if (this.copies.has(bytes) && spareBytes <= this.windowBytes) this.spare.push(bytes)
    return bytes
  }

  /** `parts` copied into memory of this hash's own (a spare copy of the same size when there is one). */
  private copy (parts: readonly Uint8Array[], size: number): Uint8Array {
    const index = this.spare.findIndex(buffer => buffer.byteLength === size)
    const copy = index >= 0 ? this.spare.splice(index, 1)[0]! : new Uint8Array(size)
    this.copies.add(copy)
    let at = 0
    for (const part of parts) {
      copy.set(part, at)
      at += part.byteLength
    }
    return copy
  }

  /** Hashes the parked bytes the position has reached, nearest first. */
  private drain (): void {
    for (;;) {
      let nearest = Infinity
      for (const at of this.parked.keys()) if (at < nearest) nearest = at
      if (nearest > this.position) return
      // Hashed before it goes back to the spares (nothing reuses it in between: one thread).
      const bytes = this.unpark(nearest)
      const end = nearest + bytes.byteLength
      if (end > this.position) {
        this.hash.update(bytes.subarray(this.position - nearest))
        this.position = end
      }
    }
  }
}
