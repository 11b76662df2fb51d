/**
 * Whether a piece request is late enough to ask a second holder for the same piece (the
 * endgame, piece-picker.ts). A duplicate costs the second holder's uplink a whole piece that
 * the swarm needs for other nodes, so it is spent only where it saves time. Pure: the caller
 * gives the request's age and the rates it measured.
 */

export interface LatePolicy {
  /** A request is late once it is `lateSlack` times older than its holder should need at its measured rate. @default 2 */
  lateSlack: number
  /**
   * ...or once a holder asking for it, idle toward us, would fetch the whole piece `fasterBy`
   * times within what the current holder is still expected to take (the last piece of a large
   * file must not wait on a slow holder). Large, because per-piece rates include queueing at a
   * busy uplink: a holder measured while it served one peer looks several times faster than one
   * measured while it served four. @default 4
   */
  fasterBy: number
  /** A request younger than this is never late (jitter on a fast link). @default 500 */
  minLateMs: number
  /** Age at which a request to a holder not measured yet is late. @default 5_000 */
  unmeasuredLateMs: number
}

export const latePolicyDefaults: LatePolicy = { lateSlack: 2, fasterBy: 4, minLateMs: 500, unmeasuredLateMs: 5_000 }

export interface LateRequestView {
  /** Since the request was sent, ms. */
  ageMs: number
  /** Of the piece. */
  bytes: number
  /** The current holder's measured rate for whole pieces, bytes per ms; undefined: not measured. */
  holderBytesPerMs: number | undefined
  /** The same for the holder that could be asked instead. */
  askerBytesPerMs: number | undefined
  /** The holder that could be asked has nothing of ours in flight. */
  askerIdle: boolean
}

/**
 * undefined when the request is on time; otherwise how much a duplicate may save: the holder's
 * expected time left, ms, or Infinity when that is unknown. Late when:
 * - the holder is measured and the request is `lateSlack` × older than the piece should take at
 *   its rate (stuck, or the holder slowed down): Infinity;
 * - the holder is measured, the asker is measured and idle, and the holder's expected time left
 *   exceeds `fasterBy` × the asker's time for the whole piece: that time left;
 * - the holder is not measured, and the request is `unmeasuredLateMs` old, or `fasterBy` × older
 *   than a measured asker would need for the piece: Infinity.
 * Never younger than `minLateMs`.
 */
export function lateness (request: LateRequestView, policy: LatePolicy = latePolicyDefaults): number | undefined {
  const { ageMs, bytes, holderBytesPerMs, askerBytesPerMs } = request
  if (ageMs < policy.minLateMs) return undefined
  const askerMs = askerBytesPerMs !== undefined && askerBytesPerMs > 0 ? bytes / askerBytesPerMs : undefined
  if (holderBytesPerMs === undefined || !(holderBytesPerMs > 0)) {
    const late = ageMs >= policy.unmeasuredLateMs || (askerMs !== undefined && ageMs >= policy.fasterBy * askerMs)
    return late ? Number.POSITIVE_INFINITY : undefined
  }
  const expectedMs = bytes / holderBytesPerMs
  if (ageMs >= policy.lateSlack * expectedMs) return Number.POSITIVE_INFINITY
  const leftMs = expectedMs - ageMs
  const idleFaster = askerMs !== undefined && request.askerIdle && leftMs > policy.fasterBy * askerMs
  return idleFaster ? leftMs : undefined
}
