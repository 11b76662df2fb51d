/**
 * When to go back to the origin, judged from rates actually seen rather than after a fixed
 * stall: will the swarm deliver the remaining bytes before the origin would? The origin's rate is
 * what *this node* would get from it (measured per connection × the connections it may open,
 * divided among the nodes that would fall back at the same time), so in a large swarm, where the
 * origin's share per node is small, the swarm is given correspondingly long.
 *
 * - `swarmEta = remaining / swarmRate`, `originEta = remaining / originRate`.
 * - The swarm is on time when `swarmEta <= originEta × slack`: nothing goes to the origin.
 * - Otherwise the origin takes the share that makes both finish together,
 *   `remaining × o / (o + s)`, not all of it: the swarm keeps doing what it can.
 * - A swarm that delivered nothing yet is given `patienceMs`: the time the origin would take to
 *   deliver one unit (`unitBytes / originRate`, what waiting can cost at most), but at least
 *   `minWaitMs` (a few round trips, so that a seed's first piece can arrive).
 *
 * The driver calls it on each tick with fresh rates and fetches `originBytes` (rounded up to
 * whole pieces, the pieces with no holder or the rarest first) when it is above zero.
 */

export interface FallbackInput {
  remainingBytes: number
  /** Bytes per ms arriving from peers lately (ThroughputMeter). */
  swarmBytesPerMs: number
  /** Bytes per ms this node would get from the origin (see above); 0 when it may not be used. */
  originBytesPerMs: number
  /** Time since the swarm last delivered a byte (or since the download started). */
  sinceSwarmProgressMs: number
  /** Bytes of one request, for the patience rule. */
  unitBytes: number
}

export interface FallbackInit {
  /** Lateness tolerated before taking a share from the origin. @default 1.25 */
  slack?: number
  /** Least wait for a swarm that delivered nothing yet. @default 1000 */
  minWaitMs?: number
  /** Most wait for such a swarm, whatever the origin's rate. @default 60_000 */
  maxWaitMs?: number
}

export type FallbackReason = 'done' | 'no-origin' | 'on-time' | 'waiting' | 'stalled' | 'late'

export interface FallbackDecision {
  /** Bytes to fetch from the origin now; 0 for none. */
  originBytes: number
  reason: FallbackReason
}

/** How long a swarm that delivered nothing is given: one unit's origin time, within bounds. */
export function fallbackPatienceMs (input: Pick<FallbackInput, 'unitBytes' | 'originBytesPerMs'>, init: FallbackInit = {}): number {
  const minWaitMs = init.minWaitMs ?? 1000
  const maxWaitMs = init.maxWaitMs ?? 60_000
  return Math.min(maxWaitMs, Math.max(minWaitMs, input.unitBytes / input.originBytesPerMs))
}

export function originFallback (input: FallbackInput, init: FallbackInit = {}): FallbackDecision {
  const slack = init.slack ?? 1.25
  const { remainingBytes: remaining, swarmBytesPerMs: swarm, originBytesPerMs: origin } = input
  if (remaining <= 0) return { originBytes: 0, reason: 'done' }
  if (!(origin > 0)) return { originBytes: 0, reason: 'no-origin' }
  if (!(swarm > 0)) {
    if (input.sinceSwarmProgressMs < fallbackPatienceMs(input, init)) return { originBytes: 0, reason: 'waiting' }
    return { originBytes: remaining, reason: 'stalled' }
  }
  const swarmEta = remaining / swarm
  const originEta = remaining / origin
  if (swarmEta <= originEta * slack) return { originBytes: 0, reason: 'on-time' }
  return { originBytes: Math.ceil(remaining * origin / (origin + swarm)), reason: 'late' }
}
