import { setTimeout as sleep } from 'node:timers/promises'
import { AbortedError } from '../errors.js'

export interface RetryInit {
  /** Attempts after the first. */
  retries: number
  /** First backoff; doubles each attempt, with ±50 % jitter so a swarm does not retry in step. */
  delayMs: number
  signal: AbortSignal
  isRetryable: (error: unknown) => boolean
  onRetry?: (error: unknown, attempt: number) => void
}

/** Runs `attempt` until it succeeds, fails for good, runs out of retries or is aborted. */
export async function withRetries<T> (attempt: (attemptNumber: number) => Promise<T>, init: RetryInit): Promise<T> {
  for (let attemptNumber = 0; ; attemptNumber++) {
    if (init.signal.aborted) throw new AbortedError()
    try {
      return await attempt(attemptNumber)
    } catch (error) {
      if (init.signal.aborted) throw new AbortedError()
      if (attemptNumber >= init.retries || !init.isRetryable(error)) throw error
      init.onRetry?.(error, attemptNumber + 1)
      const backoff = init.delayMs * 2 ** attemptNumber * (0.5 + Math.random())
      try {
        await sleep(backoff, undefined, { signal: init.signal })
      } catch {
        throw new AbortedError()
      }
    }
  }
}
