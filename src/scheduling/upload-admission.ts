/**
 * Whether an uploader takes one more request now, or answers "busy, retry in X ms".
 *
 * An uploader that accepts every request queues them all behind each other (or shares its link
 * among them all): with a few hundred requesters, as a seed has at the start, a request waits
 * tens of seconds, and the piece it names is held hostage meanwhile (the requester's picker has it
 * in flight and asks nobody else). Bounding the backlog to `maxBacklogMs` of upload time turns the
 * wait into a quick refusal, and the requester asks another holder, as BitTorrent's choking does.
 */

export interface UploadAdmissionInit {
  /** Upload time already promised beyond which requests are refused. @default 500 */
  maxBacklogMs?: number
}

/**
 * How urgent a requester is: its own time to finish at its download rate (remaining bytes ÷
 * download rate, sent with the request) over the mean of the requesters this uploader has seen,
 * within [0.5, 3]. A host on a slow link, which bounds the whole swarm's finish (T* has
 * F / min_down), gets a longer backlog and so fewer refusals; a host nearly done gets fewer.
 */
export function urgency (requesterEtaMs: number, meanEtaMs: number): number {
  if (!(meanEtaMs > 0) || !(requesterEtaMs >= 0)) return 1
  return Math.min(3, Math.max(0.5, requesterEtaMs / meanEtaMs))
}

export type Admission = { admit: true } | { admit: false, retryAfterMs: number }

/**
 * `backlogMs`: how long the uploader's link is already booked (bytes queued ÷ upload rate).
 * A refusal says when the backlog will be under the bound again. `urgencyFactor` (see `urgency`)
 * scales the bound for this requester.
 */
export function admitUpload (backlogMs: number, init: UploadAdmissionInit = {}, urgencyFactor = 1): Admission {
  const maxBacklogMs = (init.maxBacklogMs ?? 500) * urgencyFactor
  if (!(maxBacklogMs >= 0)) throw new RangeError(`maxBacklogMs must be >= 0, got ${maxBacklogMs}`)
  if (!(backlogMs > maxBacklogMs)) return { admit: true }
  return { admit: false, retryAfterMs: backlogMs - maxBacklogMs }
}
