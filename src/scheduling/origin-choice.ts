import { fallbackPatienceMs, originFallback, type FallbackDecision, type FallbackInit, type FallbackInput } from './origin-fallback.js'

/**
 * Which pieces this node fetches from the origin now, beyond those it must fetch anyway (its
 * elected share, a share handed over to it): `originFallback` sets a budget in bytes from the
 * rates seen, and the budget is spent on the pieces the swarm serves worst.
 *
 * - The budget is the decision's `originBytes` less what the origin is already fetching for us,
 *   so a late swarm gets its share from the origin once, not once per tick.
 * - Pieces no live peer holds go first (the caller lists them in its order: pieces a client waits
 *   for, then an order of its own, so that nodes falling back at the same time take different
 *   pieces); then pieces whose best holder is late against the origin, request for request
 *   (`holder × slack < originRequest`: one piece from that holder against one origin request of
 *   this node's share), the slowest first. A piece with a holder not measured yet is never taken, not even from a
 *   silent swarm: that holder may be fast (it may have just appeared); a holder whose requests
 *   fail or time out is measured, as the slowest there is.
 * - A piece is started while budget is left, so at most one piece beyond the budget.
 * - Nothing during the download's first patience (one unit's origin time, as for a silent
 *   swarm): rates read then are those of a swarm starting up (seeds fetching their first pieces,
 *   connections and hashing threads warming up), not of the swarm.
 *
 * Pure: the rates and the time since the swarm's last byte come in with the input.
 */

/** A missing piece that nobody is fetching for us. */
export interface OriginCandidate {
  index: number
  bytes: number
  /**
   * The best rate (bytes per ms) among the live peers holding it: 0 when no live peer holds it,
   * undefined when it has holders none of which was measured yet.
   */
  holderBytesPerMs: number | undefined
}

export interface OriginChoiceInput extends FallbackInput {
  /** Bytes the origin is fetching for this download now. */
  originInFlightBytes: number
  /** A function when costly: called only when there is a budget to spend. */
  candidates: readonly OriginCandidate[] | (() => readonly OriginCandidate[])
  /** Time since the download started. @default Infinity */
  sinceStartMs?: number
  /** Origin requests that may be started now. */
  slots: number
  /**
   * What one origin request of this node gets, bytes per ms: the node's origin rate ÷ its
   * origin requests at once. Compared with a holder's rate for one piece. @default originBytesPerMs
   */
  originRequestBytesPerMs?: number
}

export interface OriginChoice {
  /** Pieces to fetch from the origin now, in order. */
  pieces: number[]
  decision: FallbackDecision
  /** The decision's bytes less those in flight: what the pieces were chosen within. */
  budgetBytes: number
}

export function chooseOriginPieces (input: OriginChoiceInput, init: FallbackInit = {}): OriginChoice {
  const slack = init.slack ?? 1.25
  const pieces: number[] = []
  if (input.remainingBytes > 0 && input.originBytesPerMs > 0 && (input.sinceStartMs ?? Infinity) < fallbackPatienceMs(input, init)) {
    return { pieces, decision: { originBytes: 0, reason: 'waiting' }, budgetBytes: 0 }
  }
  const decision = originFallback(input, init)
  const budgetBytes = decision.originBytes - input.originInFlightBytes
  if (budgetBytes <= 0 || input.slots <= 0) return { pieces, decision, budgetBytes }
  const candidates = typeof input.candidates === 'function' ? input.candidates() : input.candidates
  const noHolder = candidates.filter(candidate => candidate.holderBytesPerMs === 0)
  const originRequest = input.originRequestBytesPerMs ?? input.originBytesPerMs
  const late = candidates
    .filter(candidate => candidate.holderBytesPerMs !== undefined && candidate.holderBytesPerMs > 0 && candidate.holderBytesPerMs * slack < originRequest)
    .sort((a, b) => a.holderBytesPerMs! - b.holderBytesPerMs!)
  let left = budgetBytes
  for (const candidate of [...noHolder, ...late]) {
    if (pieces.length >= input.slots || left <= 0) break
    pieces.push(candidate.index)
    left -= candidate.bytes
  }
  return { pieces, decision, budgetBytes }
}
