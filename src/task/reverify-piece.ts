import { AbortedError, BlockMismatchError, StorageError } from '../errors.js'
import { hashBlock, hashStream } from '../storage/hash-pool.js'
import type { TaskFile } from '../storage/task-files.js'
import type { Task } from './task.js'

/**
 * Migrates one piece stored without block hashes (a cache written by 0.1.0): reads it from
 * disk block by block, checks the whole piece against the sha256 recorded when it landed, and
 * only then records its block hashes (marked dirty for the store). Throws BlockMismatchError
 * when the piece no longer matches (or has no digest to match), so it is refetched instead of
 * served.
 */
export async function reverifyPiece (task: Task, file: Pick<TaskFile, 'read'>, piece: number, signal: AbortSignal): Promise<void> {
  if (task.blocks.rootOf(piece) !== undefined) return
  const expected = task.bitmap.has(piece) ? task.digestOf(piece) : undefined
  if (expected === undefined) throw new BlockMismatchError(piece, `piece ${piece} of task ${task.id} has no sha256 to re-verify against`)
  const { layout } = task.blocks
  const first = piece * layout.blocksPerPiece
  const whole = hashStream()
  const digests: Array<Promise<Buffer>> = []
  for (let block = first; block < first + layout.blocksIn(piece); block++) {
    if (signal.aborted) {
      whole.drop()
      throw new AbortedError()
    }
    const data = Buffer.allocUnsafe(layout.size(block))
    for (let done = 0; done < data.length;) {
      const bytesRead = await file.read(data.subarray(done), layout.start(block) + done)
      if (bytesRead === 0) throw new StorageError(`task ${task.id} data ends at ${layout.start(block) + done}`)
      done += bytesRead
    }
    await whole.update(data)
    const digest = hashBlock(data).then(({ digest }) => digest)
    digest.catch(() => {})
    digests.push(digest)
  }
  const hashes = await Promise.all(digests)
  if ((await whole.digest()).toString('hex') !== expected) throw new BlockMismatchError(piece, `piece ${piece} of task ${task.id} no longer matches its sha256 on disk`)
  // The piece may have been dropped or replaced while it was read.
  if (task.digestOf(piece) === expected && task.blocks.rootOf(piece) === undefined) task.blocks.setPiece(piece, hashes)
}
