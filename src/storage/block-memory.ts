import { IdleRelease } from './idle-release.js'

/**
 * The memory verified blocks are read into (verified-reader.ts), read into again instead of
 * allocated: a GiB served is a thousand 1 MiB blocks, and with glibc's mmap threshold at 128 KiB
 * (src/cli/process-tuning.ts) each fresh one is a mmap, a page fault per 4 KiB page on first
 * touch and a munmap on free (a seed serving a peer spent a third of its pool threads' CPU so).
 * Buffers come in power-of-two size classes (a block is a view at the start of one), so that the
 * many short blocks of small files reuse them too.
 *
 * Ownership is a count per memory, as for the receiver's slabs (p2p/data-connection/slab-pool.ts):
 * every holder counts (the reader that loaded it, the shelf sharing it between readers, each
 * consumer still sending from it), and the memory goes back to the free list only when the last
 * one let go. A holder that may still use the memory after letting go (a write that failed, a
 * consumer that keeps what it was given) `abandon`s it instead: then it is never reused, only
 * collected. A holder that never lets go costs the same: the memory is collected once unused.
 * Reuse is an optimisation that falls back to the garbage collector, never a risk to the bytes.
 *
 * All of this is per process: several nodes in one process (the tests) share the free list.
 */

/** What became of a buffer a block was read into: a new one, or one from the free list. */
export type BlockMemoryOutcome = 'allocated' | 'reused'

const smallestClass = 4 * 1024
/** Blocks larger than this (none with 1 MiB blocks) get memory of their own, never reused. */
export const largestClass = 1024 * 1024
/** Bytes kept for reuse, all classes together. */
const maxFreeBytes = 16 * 1024 * 1024
/**
 * The free list is dropped once no memory came back for this long: an idle node should not keep
 * up to 16 MiB from its last burst of hits (docs/scale.md, "Idle nodes").
 */
const freeMemoryIdleMs = 30_000

const freeMemory = new Map<number, ArrayBuffer[]>()
let freeBytes = 0
/** Holders of each memory of ours. Absent: not ours, or abandoned (never reused). */
const holders = new WeakMap<ArrayBuffer, number>()
const outcomes: Record<BlockMemoryOutcome, number> = { allocated: 0, reused: 0 }

const idleFreeMemory = new IdleRelease({
  idleMs: freeMemoryIdleMs,
  release: () => {
    freeMemory.clear()
    freeBytes = 0
  }
})

/** Buffers taken so far in this process, by outcome (the metric damselfly_block_buffers_total). */
export function blockMemoryOutcomes (): Readonly<Record<BlockMemoryOutcome, number>> {
  return { ...outcomes }
}

/** Bytes on the free list now (tests). */
export function freeBlockBytes (): number {
  return freeBytes
}

function sizeClass (size: number): number {
  return Math.max(smallestClass, 2 ** Math.ceil(Math.log2(size)))
}

/**
 * A buffer of `size` bytes to read a block into: a view at the start of free memory of its size
 * class, else of new memory. It is the caller's alone and not counted yet: `adopt` it once its
 * memory is where it stays (a hashing thread moves memory there and back).
 */
export function blockBuffer (size: number): Buffer {
  if (size > largestClass) return Buffer.allocUnsafeSlow(size)
  const bytes = sizeClass(size)
  const memory = freeMemory.get(bytes)?.pop()
  if (memory !== undefined) freeBytes -= bytes
  outcomes[memory === undefined ? 'allocated' : 'reused']++
  return Buffer.from(memory ?? Buffer.allocUnsafeSlow(bytes).buffer, 0, size)
}

function memoryOf (data: Uint8Array): ArrayBuffer | undefined {
  const memory = data.buffer
  return memory instanceof ArrayBuffer && memory.byteLength <= largestClass ? memory : undefined
}

/** `data`'s memory, new or from blockBuffer, gets its first holder: the caller. */
export function adopt (data: Buffer): void {
  const memory = memoryOf(data)
  if (memory !== undefined) holders.set(memory, 1)
}

/** One more holder of `data`'s memory. False: it is not counted (not ours, or abandoned). */
export function hold (data: Buffer): boolean {
  const memory = memoryOf(data)
  const count = memory === undefined ? undefined : holders.get(memory)
  if (memory === undefined || count === undefined) return false
  holders.set(memory, count + 1)
  return true
}

/**
 * One holder of `data`'s memory lets go. `reusable`: it will not touch the memory again; once
 * no holder is left, the memory is read into again. Otherwise the memory is abandoned: no
 * holder's letting go makes it reusable any more, and it is left to the garbage collector.
 * Each holder lets go once; letting go more often than holding would hand memory still in use
 * to the next read, so callers keep a flag (BlockHolds, the reader's SharedRead).
 */
export function letGo (data: Buffer, reusable: boolean): void {
  const memory = memoryOf(data)
  if (memory === undefined) return
  const count = holders.get(memory)
  if (count === undefined) return
  if (!reusable || count <= 1) holders.delete(memory)
  if (!reusable) return
  if (count > 1) {
    holders.set(memory, count - 1)
    return
  }
  if (freeBytes + memory.byteLength > maxFreeBytes) return
  let free = freeMemory.get(memory.byteLength)
  if (free === undefined) {
    free = []
    freeMemory.set(memory.byteLength, free)
  }
  free.push(memory)
  freeBytes += memory.byteLength
  idleFreeMemory.touch()
}

/**
 * The holds a consumer takes on the verified buffers it was given, to keep past the reader's
 * loop (VerifiedReadInit.holds): a peer's reply is read whole, then sent. Give them back with
 * `release` once every byte was handed on (the write's callback fired), or `abandon` them when
 * some may still be in use. Either is done once; later calls do nothing.
 */
export class BlockHolds {
  private held: Buffer[] = []

  /** The reader gives the consumer `data`: a hold on its memory, if that is pooled. */
  take (data: Buffer): void {
    if (hold(data)) this.held.push(data)
  }

  /** Buffers held now (tests). */
  get size (): number {
    return this.held.length
  }

  /** Done with every buffer: their memory may be read into once no other holder is left. */
  release (): void {
    this.end(true)
  }

  /** Some buffer may still be in use: their memory is never reused, only collected. */
  abandon (): void {
    this.end(false)
  }

  private end (reusable: boolean): void {
    const held = this.held
    this.held = []
    for (const data of held) letGo(data, reusable)
  }
}
