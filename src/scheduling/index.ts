/**
 * Scheduling: the download engine's decisions, with no I/O.
 *
 * - `PiecePicker`: which piece to request from which peer (wanted, then rarest first, endgame).
 * - `PeerScores`: throughput and reliability per peer, bans for corrupt data and timeouts.
 * - `PeerBackoff`: a growing pause before asking a peer again after a failed request.
 * - `electSeeds` / `shareOf` / `seedsToElect`: cold-start origin fetching by rendezvous hashing.
 *
 * The network layer reports each outcome to both the picker (to free or fill the piece) and the
 * scores (to rate the peer); the picker reads bans from the scores it is given.
 */
export { PiecePicker } from './piece-picker.js'
export type { BanList, PiecePickerComponents, PiecePickerInit, PieceRequest } from './piece-picker.js'
export { PeerScores } from './peer-scores.js'
export type { FailureReason, PeerScore, PeerScoresInit } from './peer-scores.js'
export { PeerBackoff } from './peer-backoff.js'
export type { PeerBackoffInit } from './peer-backoff.js'
export { electSeeds, rendezvousWeight, seedsToElect, shareOf } from './rendezvous.js'
export type { SeedElectionInit } from './rendezvous.js'
