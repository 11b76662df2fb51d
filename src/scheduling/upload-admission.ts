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

export type Admission = { admit: true } | { admit: false, retryAfterMs: number }

/**
 * `backlogMs`: how long the uploader's link is already booked (bytes queued ÷ upload rate).
 * A refusal says when the backlog will be under the bound again.
 */
export function admitUpload (backlogMs: number, init: UploadAdmissionInit = {}): Admission {
  const maxBacklogMs = init.maxBacklogMs ?? 500
  if (!(maxBacklogMs >= 0)) throw new RangeError(`maxBacklogMs must be >= 0, got ${maxBacklogMs}`)
  if (!(backlogMs > maxBacklogMs)) return { admit: true }
  return { admit: false, retryAfterMs: backlogMs - maxBacklogMs }
}
