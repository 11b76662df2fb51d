import { createHash } from 'node:crypto';
const defaults = {
    maxSeeds: 2,
    smallTaskPieces: 8
};
/**
 * The rendezvous weight of `peerId` for `taskKey`: sha256(taskKey + peerId) as hex. Hex strings
 * of equal length compare like the numbers they spell, so no bigint is needed.
 */
export function rendezvousWeight(taskKey, peerId) {
    return createHash('sha256').update(taskKey + peerId).digest('hex');
}
/**
 * The `count` seeds that fetch `taskKey` from the origin, highest weight first (highest-random-
 * weight hashing). The order of `seedPeerIds` and duplicates in it do not matter. Removing a seed
 * changes the answer only for tasks that had elected it; adding one only for tasks it now wins.
 */
export function electSeeds(taskKey, seedPeerIds, count) {
    if (!Number.isInteger(count) || count < 0)
        throw new RangeError(`count must be a non-negative integer, got ${count}`);
    return [...new Set(seedPeerIds)]
        .map(peerId => ({ peerId, weight: rendezvousWeight(taskKey, peerId) }))
        .sort((a, b) => compare(b.weight, a.weight) || compare(a.peerId, b.peerId))
        .slice(0, count)
        .map(seed => seed.peerId);
}
/**
 * The pieces `seedPeerId` fetches from the origin: a contiguous range, the ranges of the elected
 * seeds covering 0..pieceCount-1 exactly once, the first `pieceCount % seeds` seeds taking one
 * piece more. Ranges follow the elected order, which is recomputed from `taskKey` so that nodes
 * holding the same seeds in a different order still agree. [] for a seed not elected.
 */
export function shareOf(taskKey, electedSeeds, seedPeerId, pieceCount) {
    if (!Number.isInteger(pieceCount) || pieceCount < 0)
        throw new RangeError(`pieceCount must be a non-negative integer, got ${pieceCount}`);
    const seeds = [...new Set(electedSeeds)];
    const position = electSeeds(taskKey, seeds, seeds.length).indexOf(seedPeerId);
    if (position < 0)
        return [];
    const base = Math.floor(pieceCount / seeds.length);
    const extra = pieceCount % seeds.length;
    const start = position * base + Math.min(position, extra);
    const length = base + (position < extra ? 1 : 0);
    return Array.from({ length }, (_, offset) => start + offset);
}
/**
 * How many seeds to elect for a task: none without live seeds, one for a small task, otherwise
 * `min(liveSeeds, maxSeeds)`.
 */
export function seedsToElect(pieceCount, liveSeeds, init = {}) {
    const maxSeeds = init.maxSeeds ?? defaults.maxSeeds;
    const smallTaskPieces = init.smallTaskPieces ?? defaults.smallTaskPieces;
    liveSeeds = Math.floor(liveSeeds);
    if (liveSeeds < 1)
        return 0;
    if (pieceCount < smallTaskPieces)
        return 1;
    return Math.max(1, Math.min(liveSeeds, maxSeeds, pieceCount));
}
function compare(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
//# sourceMappingURL=rendezvous.js.map