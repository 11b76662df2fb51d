/**
 * How many seeds to elect for a cold task, from the origin's per-connection rate as measured:
 * enough seeds that together they pull from the origin as fast as the swarm can take the file in
 * (the slowest host's download rate, or the origin's total rate when that is lower and known),
 * and no more, since each extra seed splits the file into smaller shares for nothing.
 *
 *   perSeed = min(perConnection × connectionsPerSeed, seedDown, seedUp)
 *   seeds   = ceil(target / perSeed), within [1, min(liveSeeds, pieceCount, maxSeeds)]
 *
 * Before any origin rate was measured it answers as `seedsToElect` (rendezvous.ts) does. Every
 * node must elect the same seeds, so the inputs must be shared figures (e.g. the rate the seeds
 * advertise in their metadata), not each node's own view.
 */
import { seedsToElect } from './rendezvous.js'

export interface SeedCountInput {
  pieceCount: number
  liveSeeds: number
  /** Measured origin bytes per ms on one connection; undefined before the first fetch. */
  originPerConnectionBytesPerMs: number | undefined
  /** Origin connections one seed opens (originConcurrency). */
  connectionsPerSeed: number
  /** A seed's download capacity, bytes per ms. */
  seedDownBytesPerMs: number
  /**
   * A seed's upload capacity, bytes per ms: a seed cannot pass on the file faster than this, so
   * pulling faster only fills its disk. @default unlimited
   */
  seedUpBytesPerMs?: number
  /** Rate worth pulling in from the origin, bytes per ms (see above). */
  targetBytesPerMs: number
  /** @default unlimited */
  maxSeeds?: number
  /** Tasks with fewer pieces get one seed. @default 8 */
  smallTaskPieces?: number
}

export function adaptiveSeedCount (input: SeedCountInput): number {
  const liveSeeds = Math.floor(input.liveSeeds)
  if (liveSeeds < 1) return 0
  if (input.originPerConnectionBytesPerMs === undefined || !(input.originPerConnectionBytesPerMs > 0)) {
    return seedsToElect(input.pieceCount, liveSeeds, { smallTaskPieces: input.smallTaskPieces })
  }
  if (input.pieceCount < (input.smallTaskPieces ?? 8)) return 1
  const perSeed = Math.min(input.originPerConnectionBytesPerMs * Math.max(1, input.connectionsPerSeed), input.seedDownBytesPerMs, input.seedUpBytesPerMs ?? Number.POSITIVE_INFINITY)
  const wanted = Math.ceil(input.targetBytesPerMs / perSeed)
  const cap = Math.min(liveSeeds, input.pieceCount, input.maxSeeds ?? Number.POSITIVE_INFINITY)
  return Math.max(1, Math.min(cap, wanted))
}
