import type { PiecePicker } from '../scheduling/piece-picker.js'
import { mayFetchShareAhead, type SharePaceInit } from '../scheduling/share-pace.js'
import type { ShareHandover } from '../scheduling/share-handover.js'
import { stealablePieces, stealMargin } from '../scheduling/share-steal.js'
import type { Task } from './task.js'

/** Which pieces go to the origin at once: all, none, or an elected seed's share. */
export type OriginPlan = 'all' | 'none' | ReadonlySet<number>

/** A swarm download's state, as the choice of its next origin piece reads it (SwarmDownload's fields). */
export interface ShareFetchState {
  task: Pick<Task, 'wantedPieces' | 'bitmap' | 'plan'>
  plan: OriginPlan
  picker: Pick<PiecePicker, 'holdersOf' | 'missingWithNoPeer' | 'peerHolds'>
  handover?: Pick<ShareHandover, 'tookOver' | 'ownerOf' | 'progressRate'>
  /** Pieces being fetched for us, from peers or the origin. */
  busy: ReadonlySet<number>
  /** Bytes the origin is fetching for this download now. */
  originInFlightBytes: number
  /** This node's peer id. */
  self: string
  /** This node's uplink as measured, bytes per ms (share-pace.ts). */
  uplinkBytesPerMs: number | undefined
  /** Bytes of the pieces this node fetched from the origin lately that no peer holds yet (share-pace.ts). */
  unsharedBytes: number
  /**
   * Whether another live seed would take over what this one lags (share-steal.ts): only then is
   * the share paced, since otherwise nobody but this seed fetches the rest of it.
   */
  partnerTakesOver: boolean
  /** Other nodes downloading the task now. */
  othersWanting: number
  /** Whether another seed's share may be taken from (share-steal.ts). */
  mayTakeFrom: (owner: string) => boolean
  /** What one origin piece took here lately, ms; undefined before one was fetched. */
  originPieceMs: number | undefined
}

/**
 * The next piece this node fetches from the origin whatever the swarm does, if any, while the
 * share pace allows (share-pace.ts; with a partner to take over what it lags):
 * 1. a piece of its share (elected, or handed over from a gone seed) a client here waits for;
 * 2. the next piece of its share, in order;
 * 3. once its share is done, a piece of a lagging seed's share, from the far end (share-steal.ts).
 * The pace holds for pieces a client here waits for too: a seed whose uplink is slow serves its
 * own client well and every other host badly if it fetches them; another seed takes them.
 * A share piece that a peer already holds (one taken by another seed) comes from that peer.
 * With the plan `all` (no election, or a copy that failed its check) every piece is its own.
 */
export function nextSharePiece (state: ShareFetchState, init: SharePaceInit = {}): number | undefined {
  const { task, plan, picker } = state
  let orphans: Set<number> | undefined
  const mine = (index: number): boolean => {
    if (task.bitmap.has(index) || state.busy.has(index)) return false
    if (plan === 'all') return true
    if (plan !== 'none' && plan.has(index)) return picker.holdersOf(index).length === 0
    if (state.handover?.tookOver(index) !== true) return false
    orphans ??= new Set(picker.missingWithNoPeer())
    return orphans.has(index)
  }
  const pieceCount = task.plan.pieceCount
  const ahead = (index: number): boolean => !state.partnerTakesOver || mayFetchShareAhead({
    unsharedBytes: state.unsharedBytes,
    originInFlightBytes: state.originInFlightBytes,
    pieceBytes: task.plan.size(index),
    uplinkBytesPerMs: state.uplinkBytesPerMs,
    othersWanting: state.othersWanting
  }, init)
  for (const index of task.wantedPieces) if (mine(index)) return ahead(index) ? index : undefined
  for (let index = 0; index < pieceCount; index++) {
    if (mine(index)) return ahead(index) ? index : undefined
  }
  if (plan === 'all' || plan === 'none' || state.handover === undefined) return undefined
  const { handover } = state
  const next = stealablePieces({
    pieceCount,
    self: state.self,
    ownerOf: index => handover.ownerOf(index),
    ownerHolds: (owner, index) => picker.peerHolds(owner, index),
    taken: index => task.bitmap.has(index) || state.busy.has(index) || picker.holdersOf(index).length > 0,
    mayTakeFrom: state.mayTakeFrom,
    margin: owner => stealMargin({ ownerPiecesPerMs: handover.progressRate(owner), originPieceMs: state.originPieceMs })
  })[0]
  return next !== undefined && ahead(next) ? next : undefined
}
