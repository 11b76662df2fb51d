import type { Readable } from 'node:stream'
import { AbortedError, StorageError, UpstreamMismatchError } from '../errors.js'
import type { OriginClient, OriginSource } from '../origin/origin-client.js'
import { PieceSink } from './piece-sink.js'
import type { Task } from './task.js'
import type { Pace } from '../limits/token-bucket.js'
import type { TaskFile } from '../storage/task-files.js'
import { PieceBlockHasher } from '../storage/block-hasher.js'
import type { WholeFileHash } from '../storage/whole-file-hash.js'

export interface OriginDownloadComponents {
  origin: Pick<OriginClient, 'retrying' | 'readRange'>
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
  /** The task's running whole-file sha256: blocks landing where it stands are offered to it (block-hasher.ts). */
  whole?: WholeFileHash
  signal: AbortSignal
}

/** Fetches one piece from the origin into the task (resuming within the piece across retries). */
export async function fetchPiece (components: OriginDownloadComponents, init: Omit<OriginDownloadInit, 'signal'>, index: number, signal: AbortSignal): Promise<void> {
  const { task } = init
  const pieceStart = task.plan.start(index)
  const pieceSize = task.plan.size(index)
  // Shared across retries: a retry asks only for the bytes after those already taken, and
  // the sink still holds the block they end in.
  const blocks = new PieceBlockHasher(task.blocks.layout, index, { whole: init.whole, trusted: true })
  const sink = new PieceSink({ file: init.file, layout: task.blocks.layout, piece: index, start: pieceStart, size: pieceSize, blocks, pace: init.pace, signal, onWritten: (written) => { task.markReceived(index, written) } })
  task.resetPiece(index)
  try {
    if (pieceSize > 0) {
      await components.origin.retrying(signal, async () => {
        sink.retry()
        // A try that failed after the last byte arrived (the connection closed before its end
        // was seen) leaves nothing to ask for: an empty Range would be refused.
        if (sink.received < pieceSize) {
          try {
            await components.origin.readRange(init.source(), pieceStart + sink.received, pieceStart + pieceSize - 1, task.length, sink, signal)
          } catch (error) {
            // Keep the bytes that did arrive intact: the retry asks only for the rest.
            if (!(error instanceof UpstreamMismatchError || error instanceof StorageError)) sink.flushPartial()
            await sink.settled().catch(() => {})
            throw sink.failure ?? error
          }
        }
        if (sink.received < pieceSize) sink.flushPartial()
        await sink.settled()
        if (sink.received < pieceSize) throw new UpstreamMismatchError(`origin ended piece ${index} at ${sink.received} of ${pieceSize} bytes`)
      })
    }
  } catch (error) {
    blocks.drop()
    throw error
  }
  const digests = await blocks.digest()
  task.markPieceComplete(index, digests.piece, 'origin', undefined, digests.blocks)
  init.onPiece(index)
}

/** For an origin that ignores Range: the body arrives whole and in order. */
export async function fillFromWholeBody (body: Readable, init: Omit<OriginDownloadInit, 'source'>): Promise<void> {
  const { task, file } = init
  let index = 0
  const hasher = (index: number): PieceBlockHasher => new PieceBlockHasher(task.blocks.layout, index, { whole: init.whole, trusted: true })
  let blocks = hasher(0)
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
          blocks = hasher(index)
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
