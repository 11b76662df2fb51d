/**
 * How much each peer is worth asking: a throughput estimate, a reliability estimate, and bans.
 * Pure bookkeeping under an injected clock; the network layer reports every finished or failed
 * request here (and to the PiecePicker), and reads `rank` / `isBanned` back.
 */

/**
 * Why a piece request did not deliver a good piece.
 * - `timeout`: no answer within the request timeout.
 * - `corrupt`: the bytes did not hash to the piece digest.
 * - `refused`: the peer answered that it does not hold the piece (a stale `have`).
 * - `error`: anything else (stream reset, protocol error, peer at capacity).
 * - `bad-file`: the peer's pieces matched their digests, but the whole file they belong to did
 *   not hash to its sha256. Scored down, not banned: the peer may have passed on what a lying
 *   origin gave it in good faith, and its pieces cannot be told from the others'.
 */
export type FailureReason = 'timeout' | 'corrupt' | 'refused' | 'error' | 'bad-file'

export interface PeerScoresInit {
  /** Clock in milliseconds. @default Date.now */
  now?: () => number
  /** Weight of the newest sample in the throughput and reliability EWMAs, in (0, 1]. @default 0.3 */
  smoothing?: number
  /** First ban for a corrupt piece; doubles with each further offence. @default 600_000 (10 min) */
  corruptBanMs?: number
  /** Cap on any single ban. @default 86_400_000 (24 h) */
  maxBanMs?: number
  /** Timeouts in a row (no success in between) that earn a short ban. @default 3 */
  timeoutsBeforeBan?: number
  /** Length of that short ban. @default 30_000 (30 s) */
  timeoutBanMs?: number
}

/** One peer as shown on a status page. */
export interface PeerScore {
  peerId: string
  /** `bytesPerMs × reliability`; 0 while banned or when the peer only ever failed. */
  score: number
  /** EWMA of delivered bytes per millisecond; undefined until a piece arrived. */
  bytesPerMs: number | undefined
  /** EWMA of request outcomes in [0, 1] (success 1, refusal 0.5, other failures 0). */
  reliability: number
  completed: number
  failures: Record<FailureReason, number>
  /** Corrupt pieces ever received from this peer (each doubles the next ban). */
  offences: number
  /** Epoch ms when the current ban ends; undefined when not banned. */
  bannedUntil: number | undefined
}

interface PeerState {
  bytesPerMs: number | undefined
  reliability: number
  completed: number
  failures: Record<FailureReason, number>
  timeoutStreak: number
  offences: number
  bannedUntil: number
}

const defaults = {
  smoothing: 0.3,
  corruptBanMs: 10 * 60_000,
  maxBanMs: 24 * 60 * 60_000,
  timeoutsBeforeBan: 3,
  timeoutBanMs: 30_000
} as const

/**
 * Per-peer scores. Entries are kept after a peer disconnects so that a peer that sent corrupt
 * data cannot clear its ban by reconnecting; an entry is a few numbers, and the peer set of one
 * cluster is bounded.
 */
export class PeerScores {
  private readonly now: () => number
  private readonly smoothing: number
  private readonly corruptBanMs: number
  private readonly maxBanMs: number
  private readonly timeoutsBeforeBan: number
  private readonly timeoutBanMs: number
  private readonly peers = new Map<string, PeerState>()

  constructor (init: PeerScoresInit = {}) {
    this.now = init.now ?? Date.now
    this.smoothing = init.smoothing ?? defaults.smoothing
    this.corruptBanMs = init.corruptBanMs ?? defaults.corruptBanMs
    this.maxBanMs = init.maxBanMs ?? defaults.maxBanMs
    this.timeoutsBeforeBan = init.timeoutsBeforeBan ?? defaults.timeoutsBeforeBan
    this.timeoutBanMs = init.timeoutBanMs ?? defaults.timeoutBanMs
    if (!(this.smoothing > 0 && this.smoothing <= 1)) throw new RangeError(`smoothing must be in (0, 1], got ${this.smoothing}`)
  }

  /** A good piece of `bytes` arrived from `peerId`, `ms` after it was requested. */
  completed (peerId: string, bytes: number, ms: number): void {
    if (!(bytes >= 0) || !(ms >= 0)) throw new RangeError(`bytes and ms must be >= 0, got ${bytes} and ${ms}`)
    const peer = this.state(peerId)
    // A sub-millisecond transfer counts as 1 ms so one lucky sample cannot dominate.
    const sample = bytes / Math.max(ms, 1)
    peer.bytesPerMs = peer.bytesPerMs === undefined ? sample : this.blend(peer.bytesPerMs, sample)
    peer.reliability = this.blend(peer.reliability, 1)
    peer.completed++
    peer.timeoutStreak = 0
  }

  /** A request to `peerId` failed. `corrupt` bans; a streak of timeouts bans briefly. */
  failed (peerId: string, reason: FailureReason): void {
    const peer = this.state(peerId)
    peer.failures[reason]++
    peer.reliability = this.blend(peer.reliability, reason === 'refused' ? 0.5 : 0)
    if (reason === 'corrupt') {
      peer.offences++
      this.ban(peer, Math.min(this.corruptBanMs * 2 ** (peer.offences - 1), this.maxBanMs))
    } else if (reason === 'timeout') {
      peer.timeoutStreak++
      if (peer.timeoutStreak >= this.timeoutsBeforeBan) {
        peer.timeoutStreak = 0
        this.ban(peer, Math.min(this.timeoutBanMs, this.maxBanMs))
      }
    }
  }

  isBanned (peerId: string): boolean {
    const peer = this.peers.get(peerId)
    return peer !== undefined && peer.bannedUntil > this.now()
  }

  /** EWMA of the bytes per ms its pieces arrived at (request to verified); undefined until one did. */
  bytesPerMs (peerId: string): number | undefined {
    return this.peers.get(peerId)?.bytesPerMs
  }

  /** Current score (see `PeerScore.score`); undefined for a peer never reported. */
  score (peerId: string): number | undefined {
    const peer = this.peers.get(peerId)
    if (peer === undefined) return undefined
    if (peer.bannedUntil > this.now()) return 0
    return (peer.bytesPerMs ?? 0) * peer.reliability
  }

  /**
   * The peers worth asking, best first. Banned peers are left out. Peers never reported come
   * first (in the order given) so that they get measured; the rest follow by score, ties in the
   * order given.
   */
  rank (peerIds: Iterable<string>): string[] {
    const keyed: Array<{ peerId: string, key: number }> = []
    for (const peerId of new Set(peerIds)) {
      if (this.isBanned(peerId)) continue
      keyed.push({ peerId, key: this.score(peerId) ?? Number.POSITIVE_INFINITY })
    }
    // Array.prototype.sort is stable, so equal keys keep their input order.
    return keyed.sort((a, b) => b.key - a.key).map(entry => entry.peerId)
  }

  /** Every peer ever reported, best first, banned peers last. */
  snapshot (): PeerScore[] {
    const now = this.now()
    const rows: PeerScore[] = []
    for (const [peerId, peer] of this.peers) {
      const banned = peer.bannedUntil > now
      rows.push({
        peerId,
        score: banned ? 0 : (peer.bytesPerMs ?? 0) * peer.reliability,
        bytesPerMs: peer.bytesPerMs,
        reliability: peer.reliability,
        completed: peer.completed,
        failures: { ...peer.failures },
        offences: peer.offences,
        bannedUntil: banned ? peer.bannedUntil : undefined
      })
    }
    const bannedLast = (row: PeerScore): number => row.bannedUntil === undefined ? 0 : 1
    return rows.sort((a, b) => bannedLast(a) - bannedLast(b) || b.score - a.score)
  }

  private ban (peer: PeerState, ms: number): void {
    peer.bannedUntil = Math.max(peer.bannedUntil, this.now() + ms)
  }

  private blend (previous: number, sample: number): number {
    return previous + this.smoothing * (sample - previous)
  }

  private state (peerId: string): PeerState {
    let peer = this.peers.get(peerId)
    if (peer === undefined) {
      peer = {
        bytesPerMs: undefined,
        reliability: 1,
        completed: 0,
        failures: { timeout: 0, corrupt: 0, refused: 0, error: 0, 'bad-file': 0 },
        timeoutStreak: 0,
        offences: 0,
        bannedUntil: 0
      }
      this.peers.set(peerId, peer)
    }
    return peer
  }
}
