const MiB = 1024 * 1024

/** Pieces per file the automatic size aims for (DESIGN.md: length / 500, as a power of two). */
const targetPieceCount = 500
const minimumPieceSize = 4 * MiB
const maximumPieceSize = 64 * MiB

/** `clamp(nextPow2(length / 500), 4 MiB, 64 MiB)` unless a size is configured. */
export function pieceSizeFor (length: number, configured = 0): number {
  if (configured > 0) return configured
  const ideal = Math.max(1, Math.ceil(length / targetPieceCount))
  const nextPowerOfTwo = 2 ** Math.ceil(Math.log2(ideal))
  return Math.min(maximumPieceSize, Math.max(minimumPieceSize, nextPowerOfTwo))
}

/** How a task of `length` bytes divides into pieces. */
export class PiecePlan {
  readonly length: number
  readonly pieceSize: number
  readonly pieceCount: number

  constructor (length: number, pieceSize: number) {
    this.length = length
    this.pieceSize = pieceSize
    // A zero-length file still has one (empty) piece, so "complete" means one bit set.
    this.pieceCount = Math.max(1, Math.ceil(length / pieceSize))
  }

  start (index: number): number {
    return index * this.pieceSize
  }

  /** Byte count of piece `index` (the last one may be short). */
  size (index: number): number {
    return Math.max(0, Math.min(this.pieceSize, this.length - this.start(index)))
  }

  indexOf (offset: number): number {
    return Math.floor(offset / this.pieceSize)
  }
}
