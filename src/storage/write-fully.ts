import type { FileHandle } from 'node:fs/promises'
import { StorageError } from '../errors.js'

/**
 * Writes every byte of `chunks` at `position`, or throws StorageError. A write that runs into a
 * full disk can come back short without an error (libuv returns the partial count): taking
 * that for success would leave a hole under a piece whose hash says it is whole.
 */
export async function writeFully (file: FileHandle, chunks: Buffer[], position: number): Promise<void> {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0)
  let written: number
  try {
    written = (await file.writev(chunks, position)).bytesWritten
  } catch (error) {
    throw new StorageError(`cannot write piece data: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error })
  }
  if (written !== total) {
    // Short: the disk is full (ENOSPC is what the next write would say).
    const cause = Object.assign(new Error(`short write: ${written} of ${total} bytes`), { code: 'ENOSPC' })
    throw new StorageError(`cannot write piece data: ENOSPC (wrote ${written} of ${total} bytes)`, { cause })
  }
}
