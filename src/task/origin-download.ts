import type { Readable } from 'node:stream'
import { AbortedError, StorageError, UpstreamMismatchError } from '../errors.js'
import type { OriginClient, OriginSource } from '../origin/origin-client.js'
import type { Task } from './task.js'
import type { Pace } from '../limits/token-bucket.js'
import type { TaskFile } from '../storage/task-files.js'
import { PieceBlockHasher } from '../storage/block-hasher.js'

export interface OriginDownloadComponents {
  origin: OriginClient
}

export interface OriginDownloadInit {
  task: Task
  file: TaskFile
  /** The latest source: clients that join bring fresher signed URLs. */
  source: () => OriginSource
  /** Called after each piece is written and hashed (the caller checkpoints metadata). */
  onPiece: (index: number) => void
  /** Paces the bytes taken from the origin (back-to-source rate). @default unlimited */
  pace?: Pace
  signal: AbortSignal
}

/** Bytes gathered before one positional write: fewer syscalls, no copies (writev). */
const writeBatchBytes = 512 * 1024

/** Fetches one piece from the origin into the task (resuming within the piece across retries). */
export async function fetchPiece (components: OriginDownloadComponents, init: Omit<OriginDownloadInit, 'signal'>, index: number, signal: AbortSignal): Promise<void> {
  const { task } = init
  const pieceStart = task.plan.start(index)
  const pieceSize = task.plan.size(index)
  // Shared across retries: a retry asks only for the bytes after `written`, and the hashes
  // already holds the ones before.
  const piece: PieceProgress = { file: init.file, start: pieceStart, size: pieceSize, written: 0, blocks: new PieceBlockHasher(task.blocks.layout, index) }
  task.resetPiece(index)
  try {
    if (pieceSize > 0) {
      await components.origin.retrying(signal, async () => {
        const body = await components.origin.fetchRange(
          init.source(), pieceStart + piece.written, pieceStart + pieceSize - 1, task.length, signal)
        await writeBody(body, piece, () => { task.markReceived(index, piece.written) }, init.pace, signal)
        if (piece.written < pieceSize) throw new UpstreamMismatchError(`origin ended piece ${index} at ${piece.written} of ${pieceSize} bytes`)
      })
    }
  } catch (error) {
    piece.blocks.drop()
    throw error
  }
  const digests = await piece.blocks.digest()
  task.markPieceComplete(index, digests.piece, 'origin', undefined, digests.blocks)
  init.onPiece(index)
}

interface PieceProgress {
  file: TaskFile
  /** Offset of the piece in the file. */
  start: number
  size: number
  /** Bytes written and hashed so far, from the piece's start. */
  written: number
  /** The piece's and each block's sha256, on a hashing thread. */
  blocks: PieceBlockHasher
}

/**
 * Streams `body` into the piece after the bytes it already has, hashing as it goes. The
 * progress stays right when the body breaks off, so the caller can resume from it.
 */
async function writeBody (body: Readable, piece: PieceProgress, onWritten: () => void, pace: Pace | undefined, signal: AbortSignal): Promise<void> {
  let batch: Buffer[] = []
  let batchBytes = 0
  const flush = async (): Promise<void> => {
    if (batchBytes === 0) return
    await piece.file.write(batch, piece.start + piece.written)
    for (const chunk of batch) {
      await piece.blocks.update(chunk)
    }
    piece.written += batchBytes
    batch = []
    batchBytes = 0
    onWritten()
  }
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (piece.written + batchBytes + chunk.length > piece.size) {
        throw new UpstreamMismatchError(`origin sent more than the ${piece.size} bytes of the piece`)
      }
      // Taking the tokens before reading on lets TCP back-pressure slow the origin itself.
      if (pace !== undefined) await pace(chunk.length, signal)
      batch.push(chunk)
      batchBytes += chunk.length
      if (batchBytes >= writeBatchBytes) await flush()
    }
  } catch (error) {
    // Keep the bytes that did arrive intact: the retry asks only for the rest.
    if (!(error instanceof UpstreamMismatchError || error instanceof StorageError)) await flush()
    body.destroy()
    throw error
  }
  await flush()
}

/** For an origin that ignores Range: the body arrives whole and in order. */
export async function fillFromWholeBody (body: Readable, init: Omit<OriginDownloadInit, 'source'>): Promise<void> {
  const { task, file } = init
  let index = 0
  let blocks = new PieceBlockHasher(task.blocks.layout, 0)
  let intoPiece = 0
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (init.pace !== undefined) await init.pace(chunk.length, init.signal)
      let offset = 0
      while (offset < chunk.length) {
        if (index >= task.plan.pieceCount) throw new UpstreamMismatchError('origin sent more bytes than its Content-Length')
        const take = Math.min(chunk.length - offset, task.plan.size(index) - intoPiece)
        const part = chunk.subarray(offset, offset + take)
        await file.write([part], task.plan.start(index) + intoPiece)
        await blocks.update(part)
        intoPiece += take
        offset += take
        task.markReceived(index, intoPiece)
        if (intoPiece === task.plan.size(index)) {
          const digests = await blocks.digest()
          task.markPieceComplete(index, digests.piece, 'origin', undefined, digests.blocks)
          init.onPiece(index)
          index++
          intoPiece = 0
          blocks = new PieceBlockHasher(task.blocks.layout, index)
        }
      }
      if (init.signal.aborted) throw new AbortedError()
    }
  } catch (error) {
    blocks.drop()
    throw error
  } finally {
    body.destroy()
  }
  if (task.length === 0) {
    const digests = await blocks.digest()
    task.markPieceComplete(0, digests.piece, 'origin', undefined, digests.blocks)
    init.onPiece(0)
  }
  if (!task.bitmap.complete) throw new UpstreamMismatchError(`origin ended the body at piece ${index} of ${task.plan.pieceCount}`)
}
