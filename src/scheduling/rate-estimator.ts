/**
 * Rates actually seen: per peer, the transfer rate and the request round trip; and, for a whole
 * download, the bytes per millisecond arriving. Pure bookkeeping under an injected clock.
 *
 * Both use exponential decay in time (a half-life), not a per-sample weight: a peer asked often
 * is not judged on its last few pieces only, and a peer not heard from for a while keeps its old
 * figure but with little weight against the next sample.
 */

export interface RateEstimatorInit {
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
  /** Age at which a sample counts half. @default 2000 */
  halfLifeMs?: number
}

interface PeerRate {
  /** Decayed sums: rate = bytes / ms. */
  bytes: number
  ms: number
  /** EWMA of the round trip (request sent to first byte), ms. */
  rttMs: number | undefined
  at: number
}

export class RateEstimator {
  private readonly now: () => number
  private readonly halfLifeMs: number
  private readonly peers = new Map<string, PeerRate>()

  constructor (init: RateEstimatorInit = {}) {
    this.now = init.now ?? Date.now
    this.halfLifeMs = init.halfLifeMs ?? 2000
    if (!(this.halfLifeMs > 0)) throw new RangeError(`halfLifeMs must be > 0, got ${this.halfLifeMs}`)
  }

  /** `bytes` arrived from `peerId` over `ms` of transfer time (request to last byte). */
  transferred (peerId: string, bytes: number, ms: number): void {
    if (!(bytes >= 0) || !(ms >= 0)) throw new RangeError(`bytes and ms must be >= 0, got ${bytes} and ${ms}`)
    const peer = this.decayed(peerId)
    peer.bytes += bytes
    // A sub-millisecond transfer counts as 1 ms so one lucky sample cannot dominate.
    peer.ms += Math.max(ms, 1)
  }

  /** A round trip to `peerId` took `ms` (a request to its first byte, or a ping). */
  roundTrip (peerId: string, ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ms must be >= 0, got ${ms}`)
    const peer = this.decayed(peerId)
    peer.rttMs = peer.rttMs === undefined ? ms : peer.rttMs + 0.25 * (ms - peer.rttMs)
  }

  /** Bytes per ms from `peerId`; undefined until something arrived from it. */
  rate (peerId: string): number | undefined {
    const peer = this.peers.get(peerId)
    if (peer === undefined || peer.ms === 0) return undefined
    return peer.bytes / peer.ms
  }

  rtt (peerId: string): number | undefined {
    return this.peers.get(peerId)?.rttMs
  }

  forget (peerId: string): void {
    this.peers.delete(peerId)
  }

  private decayed (peerId: string): PeerRate {
    const now = this.now()
    let peer = this.peers.get(peerId)
    if (peer === undefined) {
      peer = { bytes: 0, ms: 0, rttMs: undefined, at: now }
      this.peers.set(peerId, peer)
      return peer
    }
    const weight = 2 ** (-(now - peer.at) / this.halfLifeMs)
    peer.bytes *= weight
    peer.ms *= weight
    peer.at = now
    return peer
  }
}

/**
 * Bytes per ms arriving at one place (a download from all its peers, or from the origin),
 * averaged over roughly the last `windowMs`: each byte's weight decays as e^(-age / windowMs),
 * so a steady flow of r bytes/ms reads r once it has run for a few windows.
 */
export class ThroughputMeter {
  private readonly now: () => number
  private readonly windowMs: number
  private readonly startedAt: number
  private value = 0
  private at: number

  constructor (init: { now?: () => number, windowMs?: number } = {}) {
    this.now = init.now ?? Date.now
    this.windowMs = init.windowMs ?? 2000
    if (!(this.windowMs > 0)) throw new RangeError(`windowMs must be > 0, got ${this.windowMs}`)
    this.startedAt = this.at = this.now()
  }

  add (bytes: number): void {
    this.decay()
    this.value += bytes
  }

  /**
   * Bytes per ms. Before one window has passed, the bytes are divided by the time that passed
   * (the decayed sum would otherwise read low while the meter fills).
   */
  rate (): number {
    this.decay()
    const age = this.at - this.startedAt
    if (age <= 0) return 0
    // The weight a constant flow would have built up by now: windowMs · (1 − e^(−age/windowMs)).
    return this.value / (this.windowMs * (1 - Math.exp(-age / this.windowMs)))
  }

  private decay (): void {
    const now = this.now()
    if (now > this.at) {
      this.value *= Math.exp(-(now - this.at) / this.windowMs)
      this.at = now
    }
  }
}
