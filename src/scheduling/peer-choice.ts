/**
 * Which peers to ask first: by the rate actually seen from them, with a share of optimism.
 * - Peers never measured go first (in the order given): a peer is only measured by asking it.
 * - Measured peers follow, fastest first.
 * - With probability `exploreShare`, one measured peer picked at random from the slower half
 *   jumps to the front: a peer measured while it was busy gets a fresh chance, as BitTorrent's
 *   optimistic unchoke does.
 * Pure: randomness is injected.
 */

export interface PeerChoiceInit {
  /** Uniform in [0, 1). @default Math.random */
  random?: () => number
  /** Probability of one optimistic pick per ranking, in [0, 1]. @default 0.1 */
  exploreShare?: number
}

export function rankByRate (peers: Iterable<string>, rateOf: (peerId: string) => number | undefined, init: PeerChoiceInit = {}): string[] {
  const random = init.random ?? Math.random
  const exploreShare = init.exploreShare ?? 0.1
  const fresh: string[] = []
  const measured: Array<{ peerId: string, rate: number }> = []
  for (const peerId of new Set(peers)) {
    const rate = rateOf(peerId)
    if (rate === undefined) fresh.push(peerId)
    else measured.push({ peerId, rate })
  }
  // Stable: equal rates keep their input order.
  measured.sort((a, b) => b.rate - a.rate)
  const ranked = measured.map(entry => entry.peerId)
  if (ranked.length >= 2 && random() < exploreShare) {
    const half = Math.ceil(ranked.length / 2)
    const position = half + Math.min(ranked.length - half - 1, Math.floor(random() * (ranked.length - half)))
    const [lucky] = ranked.splice(position, 1)
    ranked.unshift(lucky!)
  }
  return [...fresh, ...ranked]
}

/**
 * One holder to ask for one piece: random, weighted by measured rate (unmeasured peers weigh as
 * the mean of the measured ones, or 1 when none is), so load spreads in proportion to what each
 * peer can give instead of piling onto the single fastest. Undefined for no candidates.
 */
export function pickByRate (candidates: readonly string[], rateOf: (peerId: string) => number | undefined, random: () => number = Math.random): string | undefined {
  if (candidates.length === 0) return undefined
  const rates = candidates.map(rateOf)
  const known = rates.filter((rate): rate is number => rate !== undefined && rate > 0)
  const fallback = known.length === 0 ? 1 : known.reduce((sum, rate) => sum + rate, 0) / known.length
  const weights = rates.map(rate => rate === undefined ? fallback : Math.max(rate, 0))
  const total = weights.reduce((sum, weight) => sum + weight, 0)
  if (total <= 0) return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))]
  let point = random() * total
  for (let index = 0; index < candidates.length; index++) {
    point -= weights[index]!
    if (point < 0) return candidates[index]
  }
  return candidates[candidates.length - 1]
}
