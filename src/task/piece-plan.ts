const MiB = 1024 * 1024

/** Pieces per file the automatic size aims for (DESIGN.md: length / 500, as a power of two). */
const targetPieceCount = 500
const minimumPieceSize = 4 * MiB
const maximumPieceSize = 64 * MiB
/** A swarm relays whole pieces, so a file needs this many for hosts to pipeline (issue 12). */
const pipelinedPieceCount = 64
const minimumPipelinedPieceSize = 1 * MiB

/**
 * How the automatic piece size is chosen. Every node creating the same task at once must choose
 * alike (the elected seeds each create it from the origin), so the rule is part of the wire:
 * - `classic`: `clamp(nextPow2(length / 500), 4 MiB, 64 MiB)`, what release 0.1.0 (wire 1.0.0)
 *   uses;
 * - `pipelined` (wire 1.1.0 and later): the same, but a file under 256 MiB gets at least 64
 *   pieces, down to 1 MiB: with 16 pieces of 4 MiB, a 64 MiB file left 8 hosts little to trade
 *   while pieces were in flight (bench-swarm N = 8: 2.1–2.2× T* with 1 MiB pieces against
 *   2.5–3.0× with 4 MiB, same hour). Larger files keep their size, and so their origin requests.
 */
export type PieceRule = 'classic' | 'pipelined'

/** The automatic piece size of `rule` unless a size is configured. */
export function pieceSizeFor (length: number, configured = 0, rule: PieceRule = 'pipelined'): number {
  if (configured > 0) return configured
  const classic = Math.min(maximumPieceSize, Math.max(minimumPieceSize, nextPowerOfTwo(length / targetPieceCount)))
  if (rule === 'classic') return classic
  return Math.min(classic, Math.max(minimumPipelinedPieceSize, nextPowerOfTwo(length / pipelinedPieceCount)))
}

function nextPowerOfTwo (bytes: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(bytes))))
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
