import { AbortedError, BlockMismatchError, StorageError } from '../errors.js'
import type { BlockHashes } from './block-hashes.js'
import { ByteGate } from './byte-gate.js'
import { hashBlockInPlace } from './hash-pool.js'
import { IdleRelease } from './idle-release.js'
import type { TaskFile, VerifiedReadInit } from './task-files.js'

/** A slice at most 1/this of its block is copied out, so that the block can go (see readVerified). */
const smallSliceRatio = 4

interface LoadedBlock {
  data: Buffer
  digest: Buffer
}

/**
 * Bytes of blocks being read and hashed at once, all readers of the process together. A block's
 * memory is allocated only once it passes this gate: under 200 clients the blocks wait their
 * turn here instead of in the hashing thread's queue, each already allocated (bench-load's peak
 * RSS, issue 14). 16 MiB keeps the hashing thread busy for ~8 ms, ample for one client's
 * pipeline.
 */
export const blockReadGate = new ByteGate(16 * 1024 * 1024)

/**
 * TaskFile.readVerified for any store: each block overlapping the range is read once, whole,
 * moved to a hashing thread and back (hash-pool.ts), compared, and the same buffer is sliced
 * to the range. Up to `readAhead` blocks are read and hashed while earlier ones are being sent.
 * A block is let go as soon as the consumer asks for the next one; with `recycle` its memory
 * may then be read into again, once no other reader holds it.
 */
export async function * readVerified (file: Pick<TaskFile, 'read'>, hashes: BlockHashes, start: number, end: number, init: VerifiedReadInit): AsyncGenerator<Buffer, void, undefined> {
  if (end < start) return
  const { layout } = hashes
  const first = layout.blockAt(start)
  const last = layout.blockAt(end)
  const readAhead = init.readAhead ?? 2
  const pending: SharedRead[] = []
  const held: SharedRead[] = []
  // The consumer is done with a buffer once it asks for the next one or the loop ends (recycle).
  const reusable = init.recycle === true
  let finished = false
  // The copy of a small slice given out last (from the same recycled memory as blocks).
  let copied: Buffer | undefined
  let next = first
  const fill = (): void => {
    while (next <= last && pending.length <= readAhead) {
      pending.push(readShared(file, hashes, next, init.signal))
      next++
    }
  }
  try {
    for (let block = first; block <= last; block++) {
      if (init.signal.aborted) throw new AbortedError()
      // The consumer is done with the block before this one: let it go before reading more,
      // so that a reader holds one block in memory, plus what it reads ahead.
      held.shift()?.release(reusable)
      if (copied !== undefined && reusable) recycle(copied)
      copied = undefined
      fill()
      const read = pending.shift()
      if (read === undefined) break
      held.push(read)
      const loading = read.loading
      const piece = layout.pieceOf(block)
      let expected = hashes.get(block)
      if (expected === undefined && init.verifyPiece !== undefined) {
        await init.verifyPiece(piece, init.signal)
        expected = hashes.get(block)
      }
      if (expected === undefined) throw new BlockMismatchError(piece, `block ${block} of piece ${piece} has no verified sha256`)
      const { data, digest } = await loading
      if (!digest.equals(expected)) throw new BlockMismatchError(piece, `block ${block} of piece ${piece} does not match its sha256 on disk`)
      const blockStart = layout.start(block)
      const from = Math.max(start, blockStart) - blockStart
      const to = Math.min(end + 1, blockStart + data.length) - blockStart
      if (to <= from) continue
      if (from === 0 && to === data.length) {
        read.given = true
        yield data
      } else if ((to - from) * smallSliceRatio <= data.length) {
        // A small part of a large block (a ranged read): a copy of just that part is yielded,
        // and the block is let go now instead of staying in memory while the part is sent.
        const part = blockBuffer(to - from)
        data.copy(part, 0, from, to)
        if (part.buffer instanceof ArrayBuffer && part.length <= largestClass) ours.add(part.buffer)
        copied = part
        held.pop()?.release(true)
        yield part
      } else {
        read.given = true
        yield data.subarray(from, to)
      }
    }
    finished = true
  } finally {
    // Reads still running after an early stop: their results are dropped (errors included).
    // After an error or an early stop the consumer may still be sending the last buffer.
    for (const read of [...held, ...pending]) read.release(finished && reusable)
    if (copied !== undefined && finished && reusable) recycle(copied)
    pending.length = 0
  }
}

interface SharedRead {
  loading: Promise<LoadedBlock>
  /** The consumer was given this block (or part of it): see release. */
  given: boolean
  /**
   * Lets the block go. `reusable`: whoever was given it is done with it, so once no reader
   * holds it its memory may be read into again (VerifiedReadInit.recycle).
   */
  release: (reusable: boolean) => void
}

interface ShelvedBlock {
  block: LoadedBlock
  holders: number
  /** Some holder may still use the memory after letting go: it is never reused. */
  keep: boolean
}

/**
 * Blocks some reader holds right now, per task (its BlockHashes): a reader that wants a block
 * another one has read and still holds takes that buffer instead of reading its own. Under many
 * clients of the same files this keeps one copy of a block in memory instead of one per
 * response. Only finished reads are shared (a reader's file handle may close under a read in
 * progress), and nothing stays once the last holder lets go, so bit rot that happens later is
 * still found by the next read.
 */
const shelves = new WeakMap<BlockHashes, Map<number, ShelvedBlock>>()

/**
 * Block memory no reader holds any more, read into again instead of allocated: a GiB served is
 * a thousand 1 MiB blocks, and memory let go only returns at V8's next collection (bench-load
 * allocated 3.6 GB of blocks, with up to ~80 MiB of them garbage at the peak). Buffers come in
 * power-of-two size classes (a block is a view at the start of one), so that the many short
 * blocks of small files reuse them too. Memory comes back here only when every reader that was
 * given it said it is done (VerifiedReadInit.recycle).
 */
const freeMemory = new Map<number, ArrayBuffer[]>()
/** Memory of ours (the ArrayBuffer a block came back from the hashing thread in). */
const ours = new WeakSet<ArrayBuffer>()
const smallestClass = 4 * 1024
const largestClass = 1024 * 1024
/** Bytes kept for reuse, all classes together. */
const maxFreeBytes = 16 * 1024 * 1024
let freeBytes = 0

/**
 * The free list is dropped once no block was recycled for this long: an idle node should not
 * keep up to 16 MiB from its last burst of hits (docs/scale.md, "Idle nodes").
 */
const freeMemoryIdleMs = 30_000
const idleFreeMemory = new IdleRelease({
  idleMs: freeMemoryIdleMs,
  release: () => {
    freeMemory.clear()
    freeBytes = 0
  }
})

function sizeClass (size: number): number {
  return Math.max(smallestClass, 2 ** Math.ceil(Math.log2(size)))
}

function recycle (data: Buffer): void {
  const memory = data.buffer
  if (!(memory instanceof ArrayBuffer) || !ours.has(memory) || memory.byteLength > largestClass || freeBytes + memory.byteLength > maxFreeBytes) return
  ours.delete(memory)
  let free = freeMemory.get(memory.byteLength)
  if (free === undefined) {
    free = []
    freeMemory.set(memory.byteLength, free)
  }
  free.push(memory)
  freeBytes += memory.byteLength
  idleFreeMemory.touch()
}

function blockBuffer (size: number): Buffer {
  if (size > largestClass) return Buffer.allocUnsafeSlow(size)
  const bytes = sizeClass(size)
  const memory = freeMemory.get(bytes)?.pop()
  if (memory !== undefined) freeBytes -= bytes
  return Buffer.from(memory ?? Buffer.allocUnsafeSlow(bytes).buffer, 0, size)
}

function readShared (file: Pick<TaskFile, 'read'>, hashes: BlockHashes, index: number, signal: AbortSignal): SharedRead {
  let blocks = shelves.get(hashes)
  if (blocks === undefined) {
    blocks = new Map()
    shelves.set(hashes, blocks)
  }
  const shelf = blocks
  let entry: ShelvedBlock | undefined
  let released = false
  // Holding is counted in the same turn the entry is found, so that it cannot be reused between.
  const hold = (found: ShelvedBlock): LoadedBlock => {
    entry = found
    found.holders++
    return found.block
  }
  const ready = shelf.get(index)
  const loading = ready !== undefined
    ? Promise.resolve(hold(ready))
    : (async (): Promise<LoadedBlock> => {
        const size = hashes.layout.size(index)
        const letGo = await blockReadGate.take(size, signal)
        let block: LoadedBlock
        try {
          // Another reader may have read it while this one waited at the gate.
          const shelved = shelf.get(index)
          if (shelved !== undefined) return released ? shelved.block : hold(shelved)
          block = await load(file, hashes.layout.start(index), size)
        } finally {
          letGo()
        }
        // Nobody was given this copy: it can be read into again.
        if (released) {
          recycle(block.data)
          return block
        }
        const shelved = shelf.get(index)
        if (shelved !== undefined) {
          recycle(block.data)
          return hold(shelved)
        }
        const fresh: ShelvedBlock = { block, holders: 0, keep: false }
        shelf.set(index, fresh)
        return hold(fresh)
      })()
  loading.catch(() => {})
  const read: SharedRead = {
    loading,
    given: false,
    release: (reusable) => {
      if (released) return
      released = true
      if (entry === undefined) return
      if (read.given && !reusable) entry.keep = true
      entry.holders--
      if (entry.holders > 0) return
      if (shelf.get(index) === entry) shelf.delete(index)
      if (!entry.keep) recycle(entry.block.data)
    }
  }
  return read
}

async function load (file: Pick<TaskFile, 'read'>, position: number, size: number): Promise<LoadedBlock> {
  const data = blockBuffer(size)
  for (let done = 0; done < size;) {
    const bytesRead = await file.read(data.subarray(done), position + done)
    if (bytesRead === 0) throw new StorageError(`task data ends at ${position + done}`)
    done += bytesRead
  }
  // The whole class buffer moves to the hashing thread and back: no copy.
  const block = await hashBlockInPlace(data)
  if (block.data.buffer instanceof ArrayBuffer) ours.add(block.data.buffer)
  return block
}
