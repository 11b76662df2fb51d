/**
 * How far an elected seed fetches its share from the origin ahead of passing it on.
 *
 * A piece only an elected seed holds reaches the swarm through that seed's uplink alone. A seed
 * whose download outruns its upload (a host with a slow or busy uplink) would otherwise pull its
 * whole share in at the origin's pace and then hold it for as long as its uplink needs: in the
 * slow-host round of issue 12, an elected seed at 1 MB/s up held half the file for 35 s while
 * the other hosts, and the other seed, had nothing left to do. Paced, it leaves the rest of its
 * share unfetched, where another elected seed takes it (share-steal.ts).
 *
 * The rule: a share piece is started only while the bytes of the pieces this node fetched from
 * the origin that no peer holds yet, plus those the origin is fetching for it, plus the piece,
 * fit in `horizonMs` of what its uplink delivered lately, or in `minAheadPieces` pieces, whichever
 * is more. The floor lets a seed start before anyone asks it for anything, and keeps a seed that
 * is not asked much (its uplink reads low) a couple of pieces ahead. The caller leaves out pieces
 * that nobody took for a while (a few horizons): nobody is waiting for them on this uplink, and
 * counting them would stop a seed whose peers want the task but take nothing (a stalled peer).
 * Never paced with nobody else downloading the task, or with no uplink figure to go by.
 *
 * Pure: the caller measures the uplink and counts the bytes.
 */
export interface SharePaceInput {
  /** Bytes of the pieces this node fetched from the origin lately that no peer is known to hold. */
  unsharedBytes: number
  /** Bytes the origin is fetching for this node's download now. */
  originInFlightBytes: number
  /** Bytes of the piece to start. */
  pieceBytes: number
  /** Bytes per ms this node's uplink delivered lately; undefined when not known. */
  uplinkBytesPerMs: number | undefined
  /** Other nodes downloading the task now. */
  othersWanting: number
}

export interface SharePaceInit {
  /** Time of uplink that the bytes held back and in flight may fill. @default 3000 */
  horizonMs?: number
  /** Pieces (of the size to start) that may always be ahead. @default 2 */
  minAheadPieces?: number
}

export function mayFetchShareAhead (input: SharePaceInput, init: SharePaceInit = {}): boolean {
  const horizonMs = init.horizonMs ?? 3000
  const minAheadPieces = init.minAheadPieces ?? 2
  const uplink = input.uplinkBytesPerMs
  if (input.othersWanting <= 0 || uplink === undefined) return true
  const ahead = input.unsharedBytes + input.originInFlightBytes + input.pieceBytes
  return ahead <= Math.max(minAheadPieces * input.pieceBytes, uplink * horizonMs)
}
