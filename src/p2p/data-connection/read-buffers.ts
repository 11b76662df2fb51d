/** The read buffer an encrypted connection decrypts from: one, reused for every read. */
export const readBufferBytes = 1024 * 1024
/** Plain connections read into slabs of this size, each byte of a slab written once. */
const slabBytes = 4 * 1024 * 1024
/** A slab with less room than this left is retired and a new one started. */
const minReadBytes = 256 * 1024

/**
 * Where `onread` puts the bytes of a plain connection: the unused tail of a slab, never a
 * region already read into, so block bytes can go to the caller as views of the very memory
 * the kernel wrote them to. A slab is freed once no block refers to it any more.
 */
export class SlabReads {
  private slab = Buffer.allocUnsafe(slabBytes)
  private used = 0

  /** For `onread.buffer`: the memory the next read goes to. */
  next = (): Buffer => {
    if (this.slab.length - this.used < minReadBytes) {
      this.slab = Buffer.allocUnsafe(slabBytes)
      this.used = 0
    }
    return this.slab.subarray(this.used)
  }

  /** For `onread.callback`: `count` bytes landed at the start of `buffer`; returns them. */
  landed (count: number, buffer: Uint8Array): Buffer {
    if (buffer.buffer === this.slab.buffer) this.used = buffer.byteOffset - this.slab.byteOffset + count
    return Buffer.from(buffer.buffer, buffer.byteOffset, count)
  }
}
