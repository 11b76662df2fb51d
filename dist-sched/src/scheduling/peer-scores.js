/**
 * How much each peer is worth asking: a throughput estimate, a reliability estimate, and bans.
 * Pure bookkeeping under an injected clock; the network layer reports every finished or failed
 * request here (and to the PiecePicker), and reads `rank` / `isBanned` back.
 */
const defaults = {
    smoothing: 0.3,
    corruptBanMs: 10 * 60_000,
    maxBanMs: 24 * 60 * 60_000,
    timeoutsBeforeBan: 3,
    timeoutBanMs: 30_000
};
/**
 * Per-peer scores. Entries are kept after a peer disconnects so that a peer that sent corrupt
 * data cannot clear its ban by reconnecting; an entry is a few numbers, and the peer set of one
 * cluster is bounded.
 */
export class PeerScores {
    now;
    smoothing;
    corruptBanMs;
    maxBanMs;
    timeoutsBeforeBan;
    timeoutBanMs;
    peers = new Map();
    constructor(init = {}) {
        this.now = init.now ?? Date.now;
        this.smoothing = init.smoothing ?? defaults.smoothing;
        this.corruptBanMs = init.corruptBanMs ?? defaults.corruptBanMs;
        this.maxBanMs = init.maxBanMs ?? defaults.maxBanMs;
        this.timeoutsBeforeBan = init.timeoutsBeforeBan ?? defaults.timeoutsBeforeBan;
        this.timeoutBanMs = init.timeoutBanMs ?? defaults.timeoutBanMs;
        if (!(this.smoothing > 0 && this.smoothing <= 1))
            throw new RangeError(`smoothing must be in (0, 1], got ${this.smoothing}`);
    }
    /** A good piece of `bytes` arrived from `peerId`, `ms` after it was requested. */
    completed(peerId, bytes, ms) {
        if (!(bytes >= 0) || !(ms >= 0))
            throw new RangeError(`bytes and ms must be >= 0, got ${bytes} and ${ms}`);
        const peer = this.state(peerId);
        // A sub-millisecond transfer counts as 1 ms so one lucky sample cannot dominate.
        const sample = bytes / Math.max(ms, 1);
        peer.bytesPerMs = peer.bytesPerMs === undefined ? sample : this.blend(peer.bytesPerMs, sample);
        peer.reliability = this.blend(peer.reliability, 1);
        peer.completed++;
        peer.timeoutStreak = 0;
    }
    /** A request to `peerId` failed. `corrupt` bans; a streak of timeouts bans briefly. */
    failed(peerId, reason) {
        const peer = this.state(peerId);
        peer.failures[reason]++;
        peer.reliability = this.blend(peer.reliability, reason === 'refused' ? 0.5 : 0);
        if (reason === 'corrupt') {
            peer.offences++;
            this.ban(peer, Math.min(this.corruptBanMs * 2 ** (peer.offences - 1), this.maxBanMs));
        }
        else if (reason === 'timeout') {
            peer.timeoutStreak++;
            if (peer.timeoutStreak >= this.timeoutsBeforeBan) {
                peer.timeoutStreak = 0;
                this.ban(peer, Math.min(this.timeoutBanMs, this.maxBanMs));
            }
        }
    }
    isBanned(peerId) {
        const peer = this.peers.get(peerId);
        return peer !== undefined && peer.bannedUntil > this.now();
    }
    /** Current score (see `PeerScore.score`); undefined for a peer never reported. */
    score(peerId) {
        const peer = this.peers.get(peerId);
        if (peer === undefined)
            return undefined;
        if (peer.bannedUntil > this.now())
            return 0;
        return (peer.bytesPerMs ?? 0) * peer.reliability;
    }
    /**
     * The peers worth asking, best first. Banned peers are left out. Peers never reported come
     * first (in the order given) so that they get measured; the rest follow by score, ties in the
     * order given.
     */
    rank(peerIds) {
        const keyed = [];
        for (const peerId of new Set(peerIds)) {
            if (this.isBanned(peerId))
                continue;
            keyed.push({ peerId, key: this.score(peerId) ?? Number.POSITIVE_INFINITY });
        }
        // Array.prototype.sort is stable, so equal keys keep their input order.
        return keyed.sort((a, b) => b.key - a.key).map(entry => entry.peerId);
    }
    /** Every peer ever reported, best first, banned peers last. */
    snapshot() {
        const now = this.now();
        const rows = [];
        for (const [peerId, peer] of this.peers) {
            const banned = peer.bannedUntil > now;
            rows.push({
                peerId,
                score: banned ? 0 : (peer.bytesPerMs ?? 0) * peer.reliability,
                bytesPerMs: peer.bytesPerMs,
                reliability: peer.reliability,
                completed: peer.completed,
                failures: { ...peer.failures },
                offences: peer.offences,
                bannedUntil: banned ? peer.bannedUntil : undefined
            });
        }
        const bannedLast = (row) => row.bannedUntil === undefined ? 0 : 1;
        return rows.sort((a, b) => bannedLast(a) - bannedLast(b) || b.score - a.score);
    }
    ban(peer, ms) {
        peer.bannedUntil = Math.max(peer.bannedUntil, this.now() + ms);
    }
    blend(previous, sample) {
        return previous + this.smoothing * (sample - previous);
    }
    state(peerId) {
        let peer = this.peers.get(peerId);
        if (peer === undefined) {
            peer = {
                bytesPerMs: undefined,
                reliability: 1,
                completed: 0,
                failures: { timeout: 0, corrupt: 0, refused: 0, error: 0 },
                timeoutStreak: 0,
                offences: 0,
                bannedUntil: 0
            };
            this.peers.set(peerId, peer);
        }
        return peer;
    }
}
//# sourceMappingURL=peer-scores.js.map