import { AbortedError, IntegrityError, StorageError } from '../errors.js'
import { hashStream, type HashStream } from '../storage/hash-pool.js'
import type { TaskFile } from '../storage/task-files.js'
import type { Task } from './task.js'

/** Bytes read from disk at a time while hashing. */
const readChunkBytes = 4 * 1024 * 1024
/** Read buffers taking turns: reads run ahead of the hashing thread by at most this many. */
const buffersInTurn = 3

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
  // The running hash is on a hashing thread: the event loop only reads into buffers that move
  // there and back, so no byte is copied or hashed here and no buffer is made per read.
  const whole = hashStream()
  const buffers = new ReadBuffers(whole)
  try {
    for (let index = 0; index < task.plan.pieceCount; index++) {
      while (!task.bitmap.has(index)) await task.changed(signal)
      await feedPiece(file, task, index, buffers, signal)
    }
    await buffers.drain()
  } catch (error) {
    whole.drop()
    await buffers.drain().catch(() => {})
    throw error
  }
  const actual = (await whole.digest()).toString('hex')
  if (actual !== expected) {
    return { ok: false, error: new IntegrityError(`task ${task.id} hashed to sha256 ${actual}, not the ${expected} its key names`) }
  }
  return { ok: true }
}

/** Reads piece `index` from disk into the running hash. */
async function feedPiece (file: Pick<TaskFile, 'read'>, task: Task, index: number, buffers: ReadBuffers, signal: AbortSignal): Promise<void> {
  const start = task.plan.start(index)
  const size = task.plan.size(index)
  for (let done = 0; done < size;) {
    if (signal.aborted) throw new AbortedError()
    const buffer = await buffers.take()
    const length = Math.min(buffer.length, size - done)
    let bytesRead: number
    try {
      bytesRead = await file.read(buffer.subarray(0, length), start + done)
    } catch (error) {
      buffers.give(buffer)
      throw error
    }
    if (bytesRead === 0) {
      buffers.give(buffer)
      throw new StorageError(`task ${task.id} data ends at ${start + done}`)
    }
    buffers.hash(buffer, bytesRead)
    done += bytesRead
  }
}

/**
 * A few read buffers that take turns: one is read into while others are being hashed. Each
 * owns its memory, so it moves to the hashing thread and back (hash-pool.ts `feed`).
 */
class ReadBuffers {
  private readonly free: Buffer[] = Array.from({ length: buffersInTurn }, () => Buffer.allocUnsafeSlow(readChunkBytes))
  /** Buffers at the hashing thread, oldest first (they come back in order). */
  private readonly away: Array<Promise<Buffer>> = []
  private readonly stream: HashStream

  constructor (stream: HashStream) {
    this.stream = stream
  }

  async take (): Promise<Buffer> {
    const free = this.free.pop()
    if (free !== undefined) return free
    return await this.away.shift()!
  }

  give (buffer: Buffer): void {
    this.free.push(buffer)
  }

  /** Sends the first `length` bytes of `buffer` to the running hash; it comes back to `take`. */
  hash (buffer: Buffer, length: number): void {
    const back = this.stream.feed(buffer, length)
    back.catch(() => {})
    this.away.push(back)
  }

  /** Waits for every buffer to come back (its bytes hashed); rejects if the thread failed. */
  async drain (): Promise<void> {
    while (this.away.length > 0) this.free.push(await this.away.shift()!)
  }
}
