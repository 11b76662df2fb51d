/**
 * How many requests to keep in flight to one peer: enough to cover its bandwidth-delay product,
 * so the pipe never runs dry while a request travels, and no more, so a slow peer does not sit on
 * pieces a fast one could deliver. Replaces the fixed 4 per peer.
 *
 *   window = ceil(rate × rtt / unitBytes) + 1 (the one being sent) , times `headroom`
 *
 * `headroom` above 1 lets a peer's measured rate grow: a window sized to exactly the rate seen
 * can never show that the peer could do more.
 */

export interface RequestWindowInit {
  /** Bytes of one request (a piece, or a block with cut-through). */
  unitBytes: number
  /** Window for a peer not measured yet. @default 2 */
  initial?: number
  /** @default 1 */
  min?: number
  /** @default 64 */
  max?: number
  /** @default 1.5 */
  headroom?: number
}

export interface PeerLink {
  /** Measured bytes per ms; undefined before the first transfer. */
  bytesPerMs: number | undefined
  /** Measured round trip, ms; undefined before the first one. */
  rttMs: number | undefined
}

export function requestWindow (link: PeerLink, init: RequestWindowInit): number {
  const { unitBytes } = init
  if (!(unitBytes > 0)) throw new RangeError(`unitBytes must be > 0, got ${unitBytes}`)
  const min = init.min ?? 1
  const max = init.max ?? 64
  if (!(min >= 1 && max >= min)) throw new RangeError(`need 1 <= min <= max, got ${min} and ${max}`)
  const clamp = (value: number): number => Math.min(max, Math.max(min, value))
  if (link.bytesPerMs === undefined) return clamp(init.initial ?? 2)
  const rtt = link.rttMs ?? 0
  const units = (link.bytesPerMs * rtt) / unitBytes + 1
  return clamp(Math.ceil(units * (init.headroom ?? 1.5)))
}
