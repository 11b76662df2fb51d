import { originFallback, type FallbackDecision, type FallbackInit, type FallbackInput } from './origin-fallback.js'

/**
 * Which pieces this node fetches from the origin now, beyond those it must fetch anyway (its
 * elected share, a share handed over to it): `originFallback` sets a budget in bytes from the
 * rates seen, and the budget is spent on the pieces the swarm serves worst.
 *
 * - The budget is the decision's `originBytes` less what the origin is already fetching for us,
 *   so a late swarm gets its share from the origin once, not once per tick.
 * - Pieces no live peer holds go first (the caller lists them in its order: pieces a client waits
 *   for, then an order of its own, so that nodes falling back at the same time take different
 *   pieces); then pieces whose best holder is late against the origin (`holder × slack < origin`),
 *   the slowest first; pieces whose holders were not measured yet only when the swarm is silent
 *   (a holder not yet asked is given the benefit of the doubt).
 * - A piece is started while budget is left, so at most one piece beyond the budget.
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
  candidates: readonly OriginCandidate[]
  /** Origin requests that may be started now. */
  slots: number
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
  const decision = originFallback(input, init)
  const budgetBytes = decision.originBytes - input.originInFlightBytes
  const pieces: number[] = []
  if (budgetBytes <= 0 || input.slots <= 0) return { pieces, decision, budgetBytes }
  const noHolder = input.candidates.filter(candidate => candidate.holderBytesPerMs === 0)
  const late = input.candidates
    .filter(candidate => candidate.holderBytesPerMs !== undefined && candidate.holderBytesPerMs > 0 && candidate.holderBytesPerMs * slack < input.originBytesPerMs)
    .sort((a, b) => a.holderBytesPerMs! - b.holderBytesPerMs!)
  const unmeasured = decision.reason === 'stalled' ? input.candidates.filter(candidate => candidate.holderBytesPerMs === undefined) : []
  let left = budgetBytes
  for (const candidate of [...noHolder, ...late, ...unmeasured]) {
    if (pieces.length >= input.slots || left <= 0) break
    pieces.push(candidate.index)
    left -= candidate.bytes
  }
  return { pieces, decision, budgetBytes }
}
