import { createHash, type Hash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { AbortedError, IntegrityError, StorageError } from '../errors.js'
import type { Task } from './task.js'

/** Bytes read from disk at a time while hashing. */
const readChunkBytes = 1024 * 1024

export type WholeFileResult =
  | { ok: true }
  /** `badPiece`: the piece on disk no longer matches the digest recorded when it landed. */
  | { ok: false, error: IntegrityError, badPiece?: number }

/**
 * Hashes the task's content in piece order while the download fills it: each piece is read
 * back as soon as it and every piece before it are held (so from the page cache, right after it
 * was written, not in one pass over the whole file at the end), checked against its own
 * digest on the way, and fed to one running sha256 of the whole file. Resolves once every
 * piece was read; rejects (with the task's failure) if the download stops first.
 */
export async function checkWholeFile (task: Task, signal: AbortSignal): Promise<WholeFileResult> {
  const expected = task.expectedSha256
  if (expected === undefined) return { ok: true }
  const file = await openForCheck(task)
  try {
    const whole = createHash('sha256')
    const buffer = Buffer.allocUnsafe(readChunkBytes)
    for (let index = 0; index < task.plan.pieceCount; index++) {
      while (!task.bitmap.has(index)) await task.changed(signal)
      const digest = await hashPiece(file, task, index, buffer, signal, whole)
      if (digest !== task.digestOf(index)) {
        return { ok: false, badPiece: index, error: new IntegrityError(`piece ${index} of task ${task.id} does not match its recorded sha256 on disk`) }
      }
    }
    const actual = whole.digest('hex')
    if (actual !== expected) {
      return { ok: false, error: new IntegrityError(`task ${task.id} hashed to sha256 ${actual}, not the ${expected} its key names`) }
    }
    return { ok: true }
  } finally {
    await file.close()
  }
}

/**
 * The sha256 of piece `index` as it is on disk now, read in `buffer`-sized chunks; each
 * chunk is also fed to `alsoInto` when given (the whole-file hash).
 */
export async function hashPiece (file: FileHandle, task: Task, index: number, buffer: Buffer, signal: AbortSignal, alsoInto?: Hash): Promise<string> {
  const hash = createHash('sha256')
  const start = task.plan.start(index)
  const size = task.plan.size(index)
  for (let done = 0; done < size;) {
    if (signal.aborted) throw new AbortedError()
    const length = Math.min(buffer.length, size - done)
    let bytesRead: number
    try {
      ({ bytesRead } = await file.read(buffer, 0, length, start + done))
    } catch (error) {
      throw new StorageError(`cannot read task ${task.id}`, { cause: error })
    }
    if (bytesRead === 0) throw new StorageError(`task ${task.id} data ends at ${start + done}`)
    const chunk = buffer.subarray(0, bytesRead)
    hash.update(chunk)
    alsoInto?.update(chunk)
    done += bytesRead
  }
  return hash.digest('hex')
}

async function openForCheck (task: Task): Promise<FileHandle> {
  try {
    return await open(task.dataPath, 'r')
  } catch (error) {
    throw new StorageError(`cannot read task ${task.id}`, { cause: error })
  }
}
