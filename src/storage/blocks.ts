import { createHash } from 'node:crypto'
import { PiecePlan } from '../task/piece-plan.js'

/**
 * Blocks are the unit of verification: each block of a piece has its own sha256, and a piece
 * is named by the Merkle root over its block hashes (BitTorrent v2 style), so metadata stays
 * one digest per piece while a reader or a downloader checks 1 MiB at a time.
 */

/** Bytes per block (a piece smaller than this is one block). */
export const blockBytes = 1024 * 1024
/** Bytes per block hash. */
export const hashBytes = 32

/** How a task's pieces divide into blocks: block `j` of piece `i` is global block `i * blocksPerPiece + j`. */
export class BlockLayout {
  readonly plan: PiecePlan
  readonly blockSize: number
  readonly blocksPerPiece: number
  /** Global block slots (the last piece may use fewer than blocksPerPiece). */
  readonly blockCount: number

  constructor (plan: PiecePlan, blockSize = Math.min(blockBytes, plan.pieceSize)) {
    this.plan = plan
    this.blockSize = blockSize
    this.blocksPerPiece = Math.ceil(plan.pieceSize / blockSize)
    this.blockCount = plan.pieceCount * this.blocksPerPiece
  }

  /** Blocks in piece `piece`; an empty piece has one empty block. */
  blocksIn (piece: number): number {
    return Math.max(1, Math.ceil(this.plan.size(piece) / this.blockSize))
  }

  /** The global block holding byte `offset`. */
  blockAt (offset: number): number {
    const piece = this.plan.indexOf(offset)
    return piece * this.blocksPerPiece + Math.floor((offset - this.plan.start(piece)) / this.blockSize)
  }

  pieceOf (block: number): number {
    return Math.floor(block / this.blocksPerPiece)
  }

  /** File offset of global block `block`. */
  start (block: number): number {
    const piece = this.pieceOf(block)
    return this.plan.start(piece) + (block - piece * this.blocksPerPiece) * this.blockSize
  }

  /** Bytes in global block `block`. */
  size (block: number): number {
    const piece = this.pieceOf(block)
    const into = (block - piece * this.blocksPerPiece) * this.blockSize
    return Math.max(0, Math.min(this.blockSize, this.plan.size(piece) - into))
  }
}

const zeroHash = Buffer.alloc(hashBytes)

/**
 * The Merkle root over a piece's block hashes: leaves padded with zero hashes to a power of
 * two, each parent the sha256 of its two children; a single block's root is its own hash.
 * Tiny (64 bytes per node), so it runs on the event loop.
 */
export function merkleRoot (leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) throw new RangeError('a piece has at least one block')
  let level: Uint8Array[] = [...leaves]
  let width = 1
  while (width < level.length) width *= 2
  while (level.length < width) level.push(zeroHash)
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let index = 0; index < level.length; index += 2) {
      next.push(createHash('sha256').update(level[index]!).update(level[index + 1]!).digest())
    }
    level = next
  }
  return Buffer.from(level[0]!)
}
