/**
 * Scheduling: the download engine's decisions, with no I/O.
 *
 * - `PiecePicker`: which piece to request from which peer (wanted, then rarest first, endgame);
 *   `lateness`: whether a request in flight is late enough for the endgame to ask another holder.
 * - `PeerScores`: throughput and reliability per peer, bans for corrupt data and timeouts.
 * - `PeerBackoff`: a growing pause before asking a peer again after a failed request.
 * - `electSeeds` / `shareOf` / `seedsToElect`: cold-start origin fetching by rendezvous hashing.
 * - `ShareHandover`: who fetches a gone elected seed's share (the same rendezvous rule).
 * - `RateEstimator` / `ThroughputMeter`, `requestWindow`, `rankByRate` / `pickByRate`,
 *   `SuperSeeder`, `originFallback`, `adaptiveSeedCount`: decisions from rates actually seen.
 *
 * The network layer reports each outcome to both the picker (to free or fill the piece) and the
 * scores (to rate the peer); the picker reads bans from the scores it is given.
 */
export { PiecePicker } from './piece-picker.js'
export type { BanList, PiecePickerComponents, PiecePickerInit, PieceRequest, RequesterRates } from './piece-picker.js'
export { lateness, latePolicyDefaults } from './late-request.js'
export type { LatePolicy, LateRequestView } from './late-request.js'
export { PeerScores } from './peer-scores.js'
export type { FailureReason, PeerScore, PeerScoresInit } from './peer-scores.js'
export { PeerBackoff } from './peer-backoff.js'
export type { PeerBackoffInit } from './peer-backoff.js'
export { electSeeds, rendezvousWeight, seedsToElect, shareOf } from './rendezvous.js'
export { ShareHandover } from './share-handover.js'
export type { ShareHandoverInit } from './share-handover.js'
export type { SeedElectionInit } from './rendezvous.js'
// Rate-driven decisions (issue 12); drop-in points are listed in docs/scale.md.
export { RateEstimator, ThroughputMeter } from './rate-estimator.js'
export type { RateEstimatorInit } from './rate-estimator.js'
export { requestWindow } from './request-window.js'
export type { PeerLink, RequestWindowInit } from './request-window.js'
export { pickByRate, rankByRate } from './peer-choice.js'
export type { PeerChoiceInit } from './peer-choice.js'
export { SuperSeeder } from './super-seed.js'
export type { SuperSeederInit } from './super-seed.js'
export { originFallback } from './origin-fallback.js'
export type { FallbackDecision, FallbackInit, FallbackInput, FallbackReason } from './origin-fallback.js'
export { adaptiveSeedCount } from './seed-count.js'
export type { SeedCountInput } from './seed-count.js'
export { seededRandom } from './seeded-random.js'
export { admitUpload, urgency } from './upload-admission.js'
export type { Admission, UploadAdmissionInit } from './upload-admission.js'
