import { AbortedError, IntegrityError, StorageError } from '../errors.js'
import { openWholeFileHash } from '../storage/hash-pool.js'
import type { TaskFile } from '../storage/task-files.js'
import type { WholeFileHash } from '../storage/whole-file-hash.js'
import type { Task } from './task.js'

/** Bytes read from disk at a time while hashing. */
const readChunkBytes = 4 * 1024 * 1024
/** Read buffers taking turns: reads run ahead of the hashing thread by at most this many. */
const buffersInTurn = 3

export type WholeFileResult =
  | { ok: true }
  | { ok: false, error: IntegrityError }

/**
 * Hashes the task's content in file order while the download fills it, for the sha256 its key
 * names. The download offers each block it lands to `whole` from the memory the block was
 * verified from (block-hasher.ts), so bytes that land in order (one peer, the origin) are
 * hashed without being read again; this reads back from disk only what the hash still lacks
 * once it is held: pieces that landed ahead of the hash beyond its window, or before this run
 * (a resumed task, quarantine's recheck of a stored one, which passes no `whole`). Pieces are
 * not re-checked against their own digests here: that would be a third hash of every byte,
 * and a piece that went bad on disk fails the whole hash anyway.
 * Resolves once every byte was hashed; rejects (with the task's failure) if the download stops
 * first. The caller acts on the result only once the transfer is done.
 */
export async function checkWholeFile (task: Task, file: Pick<TaskFile, 'read'>, signal: AbortSignal, whole?: WholeFileHash): Promise<WholeFileResult> {
  const expected = task.expectedSha256
  if (expected === undefined) return { ok: true }
  // The running hash is on a hashing thread: the event loop only reads into buffers that move
  // there and back, so no byte is copied or hashed here and no buffer is made per read.
  const hash = whole ?? openWholeFileHash(task.length)
  let buffers: ReadBuffers | undefined
  try {
    /** Where the reads sent so far end (the hash reaches it once they are back). */
    let cursor = 0
    while (hash.position < task.length) {
      if (signal.aborted) throw new AbortedError()
      const from = Math.max(cursor, hash.position)
      const index = task.plan.indexOf(from)
      if (from >= task.length || !task.bitmap.has(index) || hash.isParked(from)) {
        // Reads still out move the position; otherwise wait for a piece or the hash to move.
        if (buffers?.busy === true) await buffers.drain()
        else if (from >= task.length) throw new StorageError(`task ${task.id}: whole-file hash stopped at ${hash.position} of ${task.length} bytes`)
        else await nextChange(task, hash, task.plan.start(index) + task.plan.size(index), signal)
        continue
      }
      const end = Math.min(task.plan.start(index) + task.plan.size(index), hash.nextParked(from) ?? Infinity)
      buffers ??= new ReadBuffers(hash)
      await readBack(file, task, from, end, buffers, signal)
      cursor = end
    }
    await buffers?.drain()
  } catch (error) {
    hash.drop()
    await buffers?.drain().catch(() => {})
    throw error
  }
  const actual = (await hash.digest()).toString('hex')
  if (actual !== expected) {
    return { ok: false, error: new IntegrityError(`task ${task.id} hashed to sha256 ${actual}, not the ${expected} its key names`) }
  }
  return { ok: true }
}

/**
 * Resolves when the task changes (rejects when it stopped) or the hash moved past `pieceEnd`
 * (the end of the piece it waits in: blocks hashed within it change nothing here). A task
 * waiter left behind when the hash moves first goes at the task's next change.
 */
async function nextChange (task: Task, hash: WholeFileHash, pieceEnd: number, signal: AbortSignal): Promise<void> {
  await Promise.race([task.changed(signal), hash.reached(pieceEnd)])
}

/** Reads bytes [from, end) of the file (held, verified pieces) into the hash. */
async function readBack (file: Pick<TaskFile, 'read'>, task: Task, from: number, end: number, buffers: ReadBuffers, signal: AbortSignal): Promise<void> {
  for (let at = from; at < end;) {
    if (signal.aborted) throw new AbortedError()
    const buffer = await buffers.take()
    const length = Math.min(buffer.length, end - at)
    let bytesRead: number
    try {
      bytesRead = await file.read(buffer.subarray(0, length), at)
    } catch (error) {
      buffers.give(buffer)
      throw error
    }
    if (bytesRead === 0) {
      buffers.give(buffer)
      throw new StorageError(`task ${task.id} data ends at ${at}`)
    }
    buffers.hash(buffer, bytesRead, at)
    at += bytesRead
  }
}

/**
 * A few read buffers that take turns: one is read into while others are being hashed. Each
 * owns its memory, so it moves to the hashing thread and back (WholeFileHash.readBack). Made
 * only when something is read back: a download landing in order never needs them.
 */
class ReadBuffers {
  private readonly free: Buffer[] = []
  private made = 0
  /** Buffers at the hashing thread, oldest first (they come back in order). */
  private readonly away: Array<Promise<Buffer>> = []
  private readonly whole: WholeFileHash

  constructor (whole: WholeFileHash) {
    this.whole = whole
  }

  get busy (): boolean {
    return this.away.length > 0
  }

  async take (): Promise<Buffer> {
    const free = this.free.pop()
    if (free !== undefined) return free
    if (this.made < buffersInTurn) {
      this.made++
      return Buffer.allocUnsafeSlow(readChunkBytes)
    }
    return await this.away.shift()!
  }

  give (buffer: Buffer): void {
    this.free.push(buffer)
  }

  /** Sends the first `length` bytes of `buffer` (read at `offset`) to the hash; it comes back to `take`. */
  hash (buffer: Buffer, length: number, offset: number): void {
    const back = this.whole.readBack(buffer, length, offset)
    back.catch(() => {})
    this.away.push(back)
  }

  /** Waits for every buffer to come back (its bytes hashed); rejects if the thread failed. */
  async drain (): Promise<void> {
    while (this.away.length > 0) this.free.push(await this.away.shift()!)
  }
}
