import { UpstreamMismatchError } from '../errors.js'
import type { Pace } from '../limits/token-bucket.js'
import type { RangeSink } from '../origin/origin-client.js'
import type { PieceBlockHasher } from '../storage/block-hasher.js'
import { blockBytes, type BlockLayout } from '../storage/blocks.js'
import type { TaskFile } from '../storage/task-files.js'

/** Whole blocks waiting for their disk write before the origin's response is paused. */
const maxBlocksQueued = 2

/** Bytes taken ahead of the pace (their tokens still owed) before the response is paused. */
const maxPacedBytes = 1024 * 1024
/**
 * A block still filling after this long is written as far as it got, so that a client
 * following a slow origin gets bytes as they come, not a block (1 MiB) at a time. A fast
 * origin fills blocks sooner and never pays the extra write.
 */
const partialFlushMs = 25

/**
 * Full-size block buffers back from the hashing thread, for the next blocks: a fresh 1 MiB
 * buffer costs the kernel 256 page faults on first touch (it showed in the profile as the copy
 * into it). Bounded: a burst beyond it is allocated and left to the GC.
 */
const spareBlocks: Buffer[] = []
const maxSpareBlocks = 16

function takeBlock (size: number): Buffer {
  const spare = spareBlocks.length > 0 && spareBlocks[spareBlocks.length - 1]!.length === size ? spareBlocks.pop() : undefined
  return spare ?? Buffer.allocUnsafeSlow(size)
}

function giveBack (block: Buffer): void {
  if (block.length === blockBytes && block.byteOffset === 0 && block.byteLength === block.buffer.byteLength && spareBlocks.length < maxSpareBlocks) spareBlocks.push(block)
}

export interface PieceSinkInit {
  file: Pick<TaskFile, 'write'>
  layout: BlockLayout
  piece: number
  /** Offset of the piece in the file. */
  start: number
  size: number
  blocks: PieceBlockHasher
  /** Paces the bytes taken from the origin. @default unlimited */
  pace?: Pace
  signal: AbortSignal
  /** Bytes of the piece on disk, from its start, after each write. */
  onWritten: (written: number) => void
}

/**
 * Where a piece's origin bytes go as undici reads them: copied once into a buffer of exactly
 * one block (the only copy on the event loop), which is written with one positional write and
 * then moves, not copied, to the hashing thread for the block's and the piece's sha256. Writes
 * and hashes run in block order on one chain; when blocks queue up the response pauses, so a
 * slow disk or hash thread slows the origin rather than growing memory. Survives retries: a
 * cut flushes the part of the block that arrived, and the next range continues it.
 */
export class PieceSink implements RangeSink {
  /** Bytes taken from the origin, from the piece's start. */
  received = 0
  /** The error that ended the sink (a write that failed, bytes past the piece's end). */
  failure?: Error
  private readonly init: PieceSinkInit
  private readonly firstBlock: number
  private block?: Buffer
  /** Offset of `block` in the piece. */
  private blockStart = 0
  /** Blocks of the piece handed on so far. */
  private sealed = 0
  private filled = 0
  /** Bytes of `block` already written (a flush after a cut). */
  private flushed = 0
  private chain: Promise<void> = Promise.resolve()
  private queued = 0
  /** Bytes whose tokens are still owed. */
  private pacing = 0
  private paced: Promise<void> = Promise.resolve()
  private controls?: Parameters<RangeSink['started']>[0]
  /** Writes a block still filling once its first bytes have waited `partialFlushMs`. */
  private partialTimer?: NodeJS.Timeout

  constructor (init: PieceSinkInit) {
    this.init = init
    this.firstBlock = init.piece * init.layout.blocksPerPiece
  }

  started = (controls: Parameters<RangeSink['started']>[0]): void => {
    this.controls = controls
  }

  /** A new attempt after a transient failure: the old one's error is forgotten. */
  retry (): void {
    this.failure = undefined
  }

  data = (chunk: Buffer): boolean => {
    if (this.failure !== undefined) return false
    const { init } = this
    if (this.received + chunk.length > init.size) {
      this.fail(new UpstreamMismatchError(`origin sent more than the ${init.size} bytes of the piece`))
      return false
    }
    if (init.pace !== undefined) {
      // The tokens are taken for bytes already here; pausing until they are granted lets TCP
      // back-pressure slow the origin itself.
      this.pacing += chunk.length
      this.paced = Promise.all([this.paced, init.pace(chunk.length, init.signal).then(() => { this.pacing -= chunk.length; this.wake() }, (error: Error) => { this.fail(error) })]).then(() => {})
    }
    for (let offset = 0; offset < chunk.length;) {
      const block = this.block ??= takeBlock(init.layout.size(this.firstBlock + this.sealed))
      const take = Math.min(block.length - this.filled, chunk.length - offset)
      chunk.copy(block, this.filled, offset, offset + take)
      this.filled += take
      offset += take
      this.received += take
      if (this.filled === block.length) this.sealBlock()
    }
    if (this.block !== undefined && this.partialTimer === undefined) {
      this.partialTimer = setTimeout(() => {
        this.partialTimer = undefined
        this.flushPartial()
      }, partialFlushMs)
    }
    return this.flowing()
  }

  /** Writes what arrived of the current block (it stays, to be completed by the next range). */
  flushPartial (): void {
    const block = this.block
    if (block === undefined || this.filled === this.flushed || this.failure !== undefined) return
    const from = this.flushed
    const to = this.filled
    const at = this.blockStart
    this.flushed = to
    this.enqueue(async () => {
      await this.init.file.write([block.subarray(from, to)], this.init.start + at + from)
      this.init.onWritten(at + to)
    })
  }

  /** Resolves once every queued write and hash is done; rejects with the sink's failure. */
  async settled (): Promise<void> {
    clearTimeout(this.partialTimer)
    this.partialTimer = undefined
    // The piece is not done before the rate allowed its bytes (the download's end would cancel the reservations).
    await this.paced
    await this.chain
    if (this.failure !== undefined) throw this.failure
  }

  private sealBlock (): void {
    clearTimeout(this.partialTimer)
    this.partialTimer = undefined
    const block = this.block!
    const from = this.flushed
    const at = this.blockStart
    this.block = undefined
    this.sealed++
    this.blockStart += block.length
    this.filled = 0
    this.flushed = 0
    this.queued++
    this.enqueue(async () => {
      await this.init.file.write([from === 0 ? block : block.subarray(from)], this.init.start + at + from)
      this.init.onWritten(at + block.length)
      // Written: now the block can move to the hashing thread.
      await this.init.blocks.updateBlock(block, giveBack)
    }, () => { this.queued--; this.wake() })
  }

  private enqueue (work: () => Promise<void>, after?: () => void): void {
    this.chain = this.chain.then(async () => {
      if (this.failure === undefined) await work()
    }).catch((error: Error) => { this.fail(error) }).finally(after)
  }

  private flowing (): boolean {
    return this.failure === undefined && this.queued < maxBlocksQueued && this.pacing < maxPacedBytes
  }

  private wake (): void {
    if (this.flowing()) this.controls?.resume()
  }

  private fail (error: Error): void {
    this.failure ??= error
    this.controls?.abort(this.failure)
  }
}
