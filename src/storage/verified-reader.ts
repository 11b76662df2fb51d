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
  const pending: Array<Promise<LoadedBlock>> = []
  let next = first
  const fill = (): void => {
    while (next <= last && pending.length <= readAhead) {
      const loading = load(file, layout.start(next), layout.size(next))
      loading.catch(() => {})
      pending.push(loading)
      next++
    }
  }
  try {
    for (let block = first; block <= last; block++) {
      if (init.signal.aborted) throw new AbortedError()
      fill()
      const loading = pending.shift()
      if (loading === undefined) break
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
    pending.length = 0
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
