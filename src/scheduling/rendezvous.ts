import { createHash } from 'node:crypto'

/**
 * Cold start without a scheduler (DESIGN.md, "Swarm without a scheduler"): when nobody holds a
 * task, only the seeds elected here fetch it from the origin, each its own contiguous share of
 * the pieces. Every node computes the same answer from the same task key and live seed set, so
 * the origin sees each byte once. Pure functions; sha256 is only used as a stable hash.
 */

export interface SeedElectionInit {
  /** Most seeds to elect for one task. @default 2 */
  maxSeeds?: number
  /** Tasks with fewer pieces than this get one seed: splitting them gains nothing. @default 8 */
  smallTaskPieces?: number
}

const defaults = {
  maxSeeds: 2,
  smallTaskPieces: 8
} as const

/**
 * The rendezvous weight of `peerId` for `taskKey`: sha256(taskKey + peerId) as hex. Hex strings
 * of equal length compare like the numbers they spell, so no bigint is needed.
 */
export function rendezvousWeight (taskKey: string, peerId: string): string {
  return createHash('sha256').update(taskKey + peerId).digest('hex')
}

/**
 * The `count` seeds that fetch `taskKey` from the origin, highest weight first (highest-random-
 * weight hashing). The order of `seedPeerIds` and duplicates in it do not matter. Removing a seed
 * changes the answer only for tasks that had elected it; adding one only for tasks it now wins.
 */
export function electSeeds (taskKey: string, seedPeerIds: Iterable<string>, count: number): string[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`)
  return [...new Set(seedPeerIds)]
    .map(peerId => ({ peerId, weight: rendezvousWeight(taskKey, peerId) }))
    .sort((a, b) => compare(b.weight, a.weight) || compare(a.peerId, b.peerId))
    .slice(0, count)
    .map(seed => seed.peerId)
}

/**
 * The pieces `seedPeerId` fetches from the origin: a contiguous range, the ranges of the elected
 * seeds covering 0..pieceCount-1 exactly once, the first `pieceCount % seeds` seeds taking one
 * piece more. Ranges follow the elected order, which is recomputed from `taskKey` so that nodes
 * holding the same seeds in a different order still agree. [] for a seed not elected.
 */
export function shareOf (taskKey: string, electedSeeds: Iterable<string>, seedPeerId: string, pieceCount: number): number[] {
  if (!Number.isInteger(pieceCount) || pieceCount < 0) throw new RangeError(`pieceCount must be a non-negative integer, got ${pieceCount}`)
  const seeds = [...new Set(electedSeeds)]
  const position = electSeeds(taskKey, seeds, seeds.length).indexOf(seedPeerId)
  if (position < 0) return []
  const base = Math.floor(pieceCount / seeds.length)
  const extra = pieceCount % seeds.length
  const start = position * base + Math.min(position, extra)
  const length = base + (position < extra ? 1 : 0)
  return Array.from({ length }, (_, offset) => start + offset)
}

/**
 * The seeds that fetch a cold task whose length is not known yet: the most `maxSeeds` allows,
 * or all live seeds when there are fewer. Every node (and a preheat) asks this same question.
 */
export function electForColdTask (taskKey: string, liveSeeds: readonly string[]): string[] {
  return electSeeds(taskKey, liveSeeds, Math.min(new Set(liveSeeds).size, defaults.maxSeeds))
}

/**
 * How many seeds to elect for a task: none without live seeds, one for a small task, otherwise
 * `min(liveSeeds, maxSeeds)`.
 */
export function seedsToElect (pieceCount: number, liveSeeds: number, init: SeedElectionInit = {}): number {
  const maxSeeds = init.maxSeeds ?? defaults.maxSeeds
  const smallTaskPieces = init.smallTaskPieces ?? defaults.smallTaskPieces
  liveSeeds = Math.floor(liveSeeds)
  if (liveSeeds < 1) return 0
  if (pieceCount < smallTaskPieces) return 1
  return Math.max(1, Math.min(liveSeeds, maxSeeds, pieceCount))
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
