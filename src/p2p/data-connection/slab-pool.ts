/**
 * Slabs a plain data connection reads into, reused rather than allocated per read. With glibc's
 * mmap threshold at 128 KiB (src/cli/process-tuning.ts) a fresh 4 MiB buffer is a mmap, a page
 * fault per 4 KiB page on first touch and a munmap on free: measured to cost the plain path a
 * third of its throughput. A slab goes back to the pool only once nothing refers to it (a count
 * per slab: the reader writing into it, and every block still holding a view of it), so a slab is
 * never read into while any view of it is alive.
 *
 * Slabs are shared memory (SharedArrayBuffer): a hashing thread reads the views where they lie,
 * with no copy, and they cannot be moved (transferred) to another thread by mistake, which would
 * detach the slab under its other views.
 */

/** What became of a slab the reader asked for: a new one, or one back from the pool. */
export type SlabOutcome = 'allocated' | 'reused'

export interface SlabPoolInit {
  /** @default 4 MiB */
  slabBytes?: number
  /** Free slabs kept for reuse; one more is dropped (left to the garbage collector). @default 4 */
  maxFree?: number
  onSlab?: (outcome: SlabOutcome) => void
}

/** One slab and how many holders it has. */
export class Slab {
  readonly bytes: Buffer
  /** The reader (while it reads into the slab) and each block holding views of it. */
  refs = 1

  constructor (bytes: Buffer) {
    this.bytes = bytes
  }
}

export class SlabPool {
  readonly slabBytes: number
  private readonly maxFree: number
  private readonly free: Slab[] = []
  private readonly onSlab?: (outcome: SlabOutcome) => void

  constructor (init: SlabPoolInit = {}) {
    this.slabBytes = init.slabBytes ?? 4 * 1024 * 1024
    this.maxFree = init.maxFree ?? 4
    this.onSlab = init.onSlab
  }

  /** Free slabs waiting for reuse. */
  get idle (): number {
    return this.free.length
  }

  /** A slab with one holder (the caller): a free one, else a new one. */
  take (): Slab {
    const slab = this.free.pop()
    if (slab !== undefined) {
      slab.refs = 1
      this.onSlab?.('reused')
      return slab
    }
    this.onSlab?.('allocated')
    return new Slab(Buffer.from(new SharedArrayBuffer(this.slabBytes)))
  }

  /** One more holder of `slab`. */
  hold (slab: Slab): void {
    if (slab.refs <= 0) throw new RangeError('a slab back in the pool cannot be held')
    slab.refs++
  }

  /** One holder fewer; with none left the slab is free for reuse (or dropped, the pool full). */
  release (slab: Slab): void {
    if (slab.refs <= 0) throw new RangeError('a slab released more often than held')
    if (--slab.refs > 0) return
    if (this.free.length < this.maxFree) this.free.push(slab)
  }
}
