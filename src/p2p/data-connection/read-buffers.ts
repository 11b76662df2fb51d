import { SlabPool, type Slab, type SlabPoolInit } from './slab-pool.js'

/** The read buffer an encrypted connection decrypts from: one, reused for every read. */
export const readBufferBytes = 1024 * 1024
/** A slab with less room than this left is retired and another one started. */
const minReadBytes = 256 * 1024

/** Who keeps views of read memory past the read: takes a hold on their slab, gives it back. */
export interface SlabHolds {
  /** Holds the slab `view` lies in; undefined when it lies in none (memory of its own). */
  hold: (view: Uint8Array) => Slab | undefined
  release: (slab: Slab) => void
}

/**
 * Where `onread` puts the bytes of a plain connection: the unused tail of a slab, never a
 * region already read into, so block bytes can go to the caller as views of the very memory
 * the kernel wrote them to. Slabs come from a small pool (slab-pool.ts) and go back to it once
 * the reader moved on and every view of them was released: whoever keeps a view past the read
 * that landed it must `hold` its slab first, and `release` it once done with the view.
 */
export class SlabReads implements SlabHolds {
  private readonly pool: SlabPool
  /** Slabs by their memory: which slab a view lies in. */
  private readonly slabs = new WeakMap<ArrayBufferLike, Slab>()
  private slab: Slab
  private used = 0
  private closed = false

  constructor (init: SlabPoolInit = {}) {
    this.pool = new SlabPool(init)
    this.slab = this.take()
  }

  /** For `onread.buffer`: the memory the next read goes to. */
  next = (): Buffer => {
    // Never after close (a destroyed socket reads no more); memory of its own, to be safe.
    if (this.closed) return Buffer.allocUnsafe(minReadBytes)
    if (this.slab.bytes.length - this.used < minReadBytes) {
      this.pool.release(this.slab)
      this.slab = this.take()
      this.used = 0
    }
    return this.slab.bytes.subarray(this.used)
  }

  /** For `onread.callback`: `count` bytes landed at the start of `buffer`; returns them. */
  landed (count: number, buffer: Uint8Array): Buffer {
    if (buffer.buffer === this.slab.bytes.buffer) this.used = buffer.byteOffset - this.slab.bytes.byteOffset + count
    return Buffer.from(buffer.buffer, buffer.byteOffset, count)
  }

  hold (view: Uint8Array): Slab | undefined {
    const slab = this.slabs.get(view.buffer)
    if (slab !== undefined) this.pool.hold(slab)
    return slab
  }

  release (slab: Slab): void {
    this.pool.release(slab)
  }

  /** The connection ended: the reader lets go of the slab it was reading into. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.pool.release(this.slab)
  }

  private take (): Slab {
    const slab = this.pool.take()
    this.slabs.set(slab.bytes.buffer, slab)
    return slab
  }
}
