import { AbortedError, BlockMismatchError, StorageError } from '../errors.js'
import type { BlockHashes } from './block-hashes.js'
import { hashBlock } from './hash-pool.js'
import type { TaskFile, VerifiedReadInit } from './task-files.js'

interface LoadedBlock {
  data: Buffer
  digest: Buffer
}

/**
 * TaskFile.readVerified for any store: each block overlapping the range is read once, whole,
 * moved to a hashing thread and back (hash-pool.ts), compared, and the same buffer is sliced
 * to the range. Up to `readAhead` blocks are read and hashed while earlier ones are being sent.
 */
export async function * readVerified (file: Pick<TaskFile, 'read'>, hashes: BlockHashes, start: number, end: number, init: VerifiedReadInit): AsyncGenerator<Buffer, void, undefined> {
  if (end < start) return
  const { layout } = hashes
  const first = layout.blockAt(start)
  const last = layout.blockAt(end)
  const readAhead = init.readAhead ?? 2
  const pending: SharedRead[] = []
  const held: SharedRead[] = []
  let next = first
  const fill = (): void => {
    while (next <= last && pending.length <= readAhead) {
      pending.push(readShared(file, hashes, next))
      next++
    }
  }
  try {
    for (let block = first; block <= last; block++) {
      if (init.signal.aborted) throw new AbortedError()
      fill()
      const read = pending.shift()
      if (read === undefined) break
      // The block before this one is no longer ours to share once we moved past it.
      held.shift()?.release()
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
      if (to > from) yield from === 0 && to === data.length ? data : data.subarray(from, to)
    }
  } finally {
    // Reads still running after an early stop: their results are dropped (errors included).
    for (const read of [...held, ...pending]) read.release()
    pending.length = 0
  }
}

interface SharedRead {
  loading: Promise<LoadedBlock>
  release: () => void
}

/**
 * Blocks some reader holds right now, per task (its BlockHashes): a reader that wants a block
 * another one has read and still holds takes that buffer instead of reading its own. Under many
 * clients of the same files this keeps one copy of a block in memory instead of one per
 * response. Only finished reads are shared (a reader's file handle may close under a read in
 * progress), and nothing stays once the last holder lets go, so bit rot that happens later is
 * still found by the next read.
 */
const shelves = new WeakMap<BlockHashes, Map<number, { block: LoadedBlock, holders: number }>>()

function readShared (file: Pick<TaskFile, 'read'>, hashes: BlockHashes, index: number): SharedRead {
  let blocks = shelves.get(hashes)
  if (blocks === undefined) {
    blocks = new Map()
    shelves.set(hashes, blocks)
  }
  const shelf = blocks
  let entry = shelf.get(index)
  let released = false
  let loading: Promise<LoadedBlock>
  if (entry !== undefined) {
    entry.holders++
    loading = Promise.resolve(entry.block)
  } else {
    loading = load(file, hashes.layout.start(index), hashes.layout.size(index)).then((block) => {
      if (released) return block
      entry = shelf.get(index)
      if (entry === undefined) {
        entry = { block, holders: 0 }
        shelf.set(index, entry)
      }
      entry.holders++
      return entry.block
    })
    loading.catch(() => {})
  }
  return {
    loading,
    release: () => {
      if (released) return
      released = true
      if (entry === undefined) return
      entry.holders--
      if (entry.holders === 0 && shelf.get(index) === entry) shelf.delete(index)
    }
  }
}

async function load (file: Pick<TaskFile, 'read'>, position: number, size: number): Promise<LoadedBlock> {
  const data = Buffer.allocUnsafe(size)
  for (let done = 0; done < size;) {
    const bytesRead = await file.read(data.subarray(done), position + done)
    if (bytesRead === 0) throw new StorageError(`task data ends at ${position + done}`)
    done += bytesRead
  }
  return await hashBlock(data)
}
