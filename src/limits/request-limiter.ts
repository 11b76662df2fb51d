import { TokenBucket } from './token-bucket.js'

export interface RequestLimiterInit {
  /** Requests per second per client address; 0 = unlimited. */
  perSecond: number
  /** Requests a client may send at once after a quiet spell. @default max(1, perSecond) */
  burst?: number
}

/** Client addresses remembered at most; idle ones (full buckets) are dropped first. */
const maxClients = 10_000

/**
 * The proxy's request rate limit: one token bucket per client address, so a noisy client
 * cannot starve the others. `admit` answers how long the client must wait, 0 when admitted.
 */
export class RequestLimiter {
  private readonly init: RequestLimiterInit
  private readonly buckets = new Map<string, TokenBucket>()

  constructor (init: RequestLimiterInit) {
    this.init = init
  }

  get enabled (): boolean {
    return this.init.perSecond > 0
  }

  /** 0 when the request may go ahead; otherwise the milliseconds until it could. */
  admit (client: string): number {
    if (!this.enabled) return 0
    let bucket = this.buckets.get(client)
    if (bucket === undefined) {
      if (this.buckets.size >= maxClients) this.forgetIdle()
      bucket = new TokenBucket({ ratePerSecond: this.init.perSecond, burst: this.init.burst ?? Math.max(1, this.init.perSecond) })
      this.buckets.set(client, bucket)
    }
    return bucket.tryTake(1)
  }

  private forgetIdle (): void {
    for (const [client, bucket] of this.buckets) if (bucket.full) this.buckets.delete(client)
    // Still full of busy clients: forget the oldest rather than grow without bound.
    for (const client of this.buckets.keys()) {
      if (this.buckets.size < maxClients) break
      this.buckets.delete(client)
    }
  }
}
