import { AbortedError, IntegrityError, StorageError } from '../errors.js'
import { hashStream, type HashStream } from '../storage/hash-pool.js'
import type { TaskFile } from '../storage/task-files.js'
import type { Task } from './task.js'

/** Bytes read from disk at a time while hashing. */
const readChunkBytes = 1024 * 1024

export type WholeFileResult =
  | { ok: true }
  | { ok: false, error: IntegrityError }

/**
 * Hashes the task's content in piece order while the download fills it: each piece is read
 * back as soon as it and every piece before it are held (so from the page cache, right after it
 * was written, not in one pass over the whole file at the end) and fed to one running sha256 of
 * the whole file. Pieces are not re-checked against their own digests here: that would be a
 * third hash of every byte, and a piece that went bad on disk fails the whole hash anyway.
 * Resolves once every piece was read; rejects (with the task's failure) if the download stops
 * first.
 */
export async function checkWholeFile (task: Task, file: Pick<TaskFile, 'read'>, signal: AbortSignal): Promise<WholeFileResult> {
  const expected = task.expectedSha256
  if (expected === undefined) return { ok: true }
  // The running hash is on a hashing thread: the event loop reads and copies, nothing more.
  const whole = hashStream()
  const buffer = Buffer.allocUnsafe(readChunkBytes)
  try {
    for (let index = 0; index < task.plan.pieceCount; index++) {
      while (!task.bitmap.has(index)) await task.changed(signal)
      await feedPiece(file, task, index, buffer, signal, whole)
    }
  } catch (error) {
    whole.drop()
    throw error
  }
  const actual = (await whole.digest()).toString('hex')
  if (actual !== expected) {
    return { ok: false, error: new IntegrityError(`task ${task.id} hashed to sha256 ${actual}, not the ${expected} its key names`) }
  }
  return { ok: true }
}

/** Reads piece `index` from disk into `hash`. */
async function feedPiece (file: Pick<TaskFile, 'read'>, task: Task, index: number, buffer: Buffer, signal: AbortSignal, hash: HashStream): Promise<void> {
  const start = task.plan.start(index)
  const size = task.plan.size(index)
  for (let done = 0; done < size;) {
    if (signal.aborted) throw new AbortedError()
    const length = Math.min(buffer.length, size - done)
    const bytesRead = await file.read(buffer.subarray(0, length), start + done)
    if (bytesRead === 0) throw new StorageError(`task ${task.id} data ends at ${start + done}`)
    await hash.update(buffer.subarray(0, bytesRead))
    done += bytesRead
  }
}
