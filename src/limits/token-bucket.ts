import { setTimeout as sleep } from 'node:timers/promises'
import { AbortedError } from '../errors.js'

export interface TokenBucketInit {
  /** Tokens (bytes, requests) added per second. */
  ratePerSecond: number
  /**
   * Tokens that may be spent at once after a quiet spell.
   * @default 1/20 s of the rate, at least 64 KiB (suits byte rates)
   */
  burst?: number
}

/**
 * A token bucket handing out reservations: `take(n)` debits n at once and sleeps until the debt
 * is repaid, so concurrent streams queue in order and share the rate, and a late timer only
 * leaves more tokens for the next take. Nothing is buffered here: callers take before they
 * read or write a slice, and back-pressure does the rest.
 */
export class TokenBucket {
  readonly ratePerSecond: number
  readonly burst: number
  private tokens: number
  private last = performance.now()
  /** Tokens handed out so far (for status). */
  taken = 0

  constructor (init: TokenBucketInit) {
    if (!(init.ratePerSecond > 0)) throw new RangeError(`rate must be positive, got ${init.ratePerSecond}`)
    this.ratePerSecond = init.ratePerSecond
    this.burst = init.burst ?? Math.max(64 * 1024, init.ratePerSecond / 20)
    this.tokens = this.burst
  }

  /** Spends `amount`, waiting as long as the rate requires. */
  async take (amount: number, signal?: AbortSignal): Promise<void> {
    this.refill()
    this.tokens -= amount
    this.taken += amount
    if (this.tokens >= 0) return
    try {
      await sleep((-this.tokens / this.ratePerSecond) * 1000, undefined, signal === undefined ? {} : { signal })
    } catch {
      // A cancelled reservation must not slow down the others.
      this.tokens += amount
      this.taken -= amount
      throw new AbortedError()
    }
  }

  /** Spends `amount` if it is there now: 0, or else the milliseconds until it would be. */
  tryTake (amount = 1): number {
    this.refill()
    if (this.tokens >= amount) {
      this.tokens -= amount
      this.taken += amount
      return 0
    }
    return Math.ceil(((amount - this.tokens) / this.ratePerSecond) * 1000)
  }

  /** Whether the bucket is full (an idle client's bucket can be forgotten). */
  get full (): boolean {
    this.refill()
    return this.tokens >= this.burst
  }

  private refill (): void {
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond)
    this.last = now
  }
}

/** Paces a byte stream: a bucket, or nothing when the rate is unlimited. */
export type Pace = (bytes: number, signal?: AbortSignal) => Promise<void>

/** The pace of a byte rate; 0 means unlimited (resolves at once). */
export function paceOf (bytesPerSecond: number): { pace: Pace, bucket?: TokenBucket } {
  if (bytesPerSecond <= 0) return { pace: async () => {} }
  const bucket = new TokenBucket({ ratePerSecond: bytesPerSecond })
  return { pace: async (bytes, signal) => { await bucket.take(bytes, signal) }, bucket }
}
