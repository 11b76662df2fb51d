import { AbortedError, BlockMismatchError, StorageError } from '../errors.js'
import type { BlockHashes } from './block-hashes.js'
import { adopt, blockBuffer, letGo } from './block-memory.js'
import { ByteGate } from './byte-gate.js'
import { hashBlockInPlace } from './hash-pool.js'
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
 * may then be read into again, once no other reader holds it. With `holds` the consumer takes a
 * hold of its own on each buffer it is given, and the memory is reused once it gave that back.
 */
export async function * readVerified (file: Pick<TaskFile, 'read'>, hashes: BlockHashes, start: number, end: number, init: VerifiedReadInit): AsyncGenerator<Buffer, void, undefined> {
  if (end < start) return
  const { layout } = hashes
  const first = layout.blockAt(start)
  const last = layout.blockAt(end)
  const readAhead = init.readAhead ?? 2
  const pending: SharedRead[] = []
  const held: SharedRead[] = []
  // The consumer is done with a buffer once it asks for the next one or the loop ends (recycle),
  // or it holds each buffer itself (holds): either way the reader's own hold may go as reusable.
  const holds = init.holds
  const reusable = init.recycle === true || holds !== undefined
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
      if (copied !== undefined) letGo(copied, reusable)
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
        holds?.take(data)
        yield data
      } else if ((to - from) * smallSliceRatio <= data.length) {
        // A small part of a large block (a ranged read): a copy of just that part is yielded,
        // and the block is let go now instead of staying in memory while the part is sent.
        const part = blockBuffer(to - from)
        data.copy(part, 0, from, to)
        adopt(part)
        copied = part
        held.pop()?.release(true)
        holds?.take(part)
        yield part
      } else {
        read.given = true
        holds?.take(data)
        yield data.subarray(from, to)
      }
    }
    finished = true
  } finally {
    // Reads still running after an early stop: their results are dropped (errors included).
    // After an error or an early stop the consumer may still be sending the last buffer (unless
    // it holds what it was given).
    const done = reusable && (finished || holds !== undefined)
    for (const read of [...held, ...pending]) read.release(done)
    if (copied !== undefined) letGo(copied, done)
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
  /** Readers holding it; the shelf's own hold on the memory (block-memory.ts) goes at zero. */
  holders: number
}

/**
 * Blocks some reader holds right now, per task (its BlockHashes): a reader that wants a block
 * another one has read and still holds takes that buffer instead of reading its own. Under many
 * clients of the same files this keeps one copy of a block in memory instead of one per
 * response. Only finished reads are shared (a reader's file handle may close under a read in
 * progress), and nothing stays once the last holder lets go, so bit rot that happens later is
 * still found by the next read. The memory itself is counted apart (block-memory.ts): the shelf
 * is one holder, and each consumer that keeps a buffer past its reader (BlockHolds) another.
 */
const shelves = new WeakMap<BlockHashes, Map<number, ShelvedBlock>>()

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
        const leaveGate = await blockReadGate.take(size, signal)
        let block: LoadedBlock
        try {
          // Another reader may have read it while this one waited at the gate.
          const shelved = shelf.get(index)
          if (shelved !== undefined) return released ? shelved.block : hold(shelved)
          block = await load(file, hashes.layout.start(index), size)
        } finally {
          leaveGate()
        }
        // Nobody was given this copy: it can be read into again.
        if (released) {
          letGo(block.data, true)
          return block
        }
        const shelved = shelf.get(index)
        if (shelved !== undefined) {
          letGo(block.data, true)
          return hold(shelved)
        }
        // The reader's hold on the memory becomes the shelf's.
        const fresh: ShelvedBlock = { block, holders: 0 }
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
      // Given to a consumer that may still use it: the memory is never reused.
      if (read.given && !reusable) letGo(entry.block.data, false)
      entry.holders--
      if (entry.holders > 0) return
      if (shelf.get(index) === entry) shelf.delete(index)
      letGo(entry.block.data, true)
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
  adopt(block.data)
  return block
}
