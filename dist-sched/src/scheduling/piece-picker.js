import { Bitmap } from '../storage/bitmap.js';
const defaults = {
    maxInFlightPerPeer: 4,
    endgameThreshold: 4,
    maxRequestersPerPiece: 2,
    requestTimeoutMs: 30_000
};
export class PiecePicker {
    pieceCount;
    scores;
    maxInFlightPerPeer;
    endgameThreshold;
    maxRequestersPerPiece;
    requestTimeoutMs;
    random;
    now;
    own;
    /** Our view of each connected peer's pieces. */
    peers = new Map();
    /** availability[i]: how many known peers hold piece i (banned ones included). */
    availability;
    /** piece → (peer → time requested). */
    inFlight = new Map();
    /** peer → pieces requested from it. */
    inFlightByPeer = new Map();
    wantedPieces = new Set();
    constructor(components, init) {
        const { pieceCount } = init;
        if (!Number.isInteger(pieceCount) || pieceCount < 1)
            throw new RangeError(`pieceCount must be a positive integer, got ${pieceCount}`);
        if (init.held !== undefined && init.held.size !== pieceCount)
            throw new RangeError(`held bitmap has ${init.held.size} pieces, expected ${pieceCount}`);
        this.pieceCount = pieceCount;
        this.scores = components.scores;
        this.maxInFlightPerPeer = init.maxInFlightPerPeer ?? defaults.maxInFlightPerPeer;
        this.endgameThreshold = init.endgameThreshold ?? defaults.endgameThreshold;
        this.maxRequestersPerPiece = init.maxRequestersPerPiece ?? defaults.maxRequestersPerPiece;
        this.requestTimeoutMs = init.requestTimeoutMs ?? defaults.requestTimeoutMs;
        this.random = init.random ?? Math.random;
        this.now = init.now ?? Date.now;
        this.own = init.held === undefined ? new Bitmap(pieceCount) : copy(init.held);
        this.availability = new Uint32Array(pieceCount);
    }
    // ---- our own pieces -------------------------------------------------------------------
    /**
     * We now hold `index` (from a peer, the origin or disk). Returns the peers that still had it
     * in flight, so the caller can cancel those requests.
     */
    held(index) {
        this.check(index);
        this.own.set(index);
        this.wantedPieces.delete(index);
        const requesters = this.inFlight.get(index);
        if (requesters === undefined)
            return [];
        this.inFlight.delete(index);
        for (const peerId of requesters.keys())
            this.forgetRequest(peerId, index);
        return [...requesters.keys()];
    }
    isHeld(index) {
        return this.own.has(index);
    }
    get complete() {
        return this.own.complete;
    }
    /** Pieces we still lack. */
    get remaining() {
        return this.pieceCount - this.own.count;
    }
    /** Few pieces left: `next` may propose a piece already in flight from another peer. */
    get endgame() {
        return this.remaining > 0 && this.remaining <= this.endgameThreshold;
    }
    /** A client is blocked on `index`: it goes before rarity, lowest index first. */
    wanted(index) {
        this.check(index);
        if (!this.own.has(index))
            this.wantedPieces.add(index);
    }
    /** The client stopped waiting for `index` (e.g. it disconnected). */
    unwanted(index) {
        this.wantedPieces.delete(index);
    }
    // ---- what peers hold ------------------------------------------------------------------
    /** Replace our view of `peerId`'s pieces (the bitmap is copied, not kept). */
    peerBitmap(peerId, bitmap) {
        if (bitmap.size !== this.pieceCount)
            throw new RangeError(`peer bitmap has ${bitmap.size} pieces, expected ${this.pieceCount}`);
        this.dropPeerPieces(peerId);
        const view = copy(bitmap);
        this.peers.set(peerId, view);
        for (let index = 0; index < this.pieceCount; index++)
            if (view.has(index))
                this.availability[index]++;
    }
    /** `peerId` announced `index` (a `have`). */
    peerHas(peerId, index) {
        this.check(index);
        const view = this.view(peerId);
        if (view.has(index))
            return;
        view.set(index);
        this.availability[index]++;
    }
    /** `peerId` withdrew `index`, or refused it: do not ask it for that piece again until it re-announces. */
    peerLacks(peerId, index) {
        this.check(index);
        const view = this.peers.get(peerId);
        if (view === undefined || !view.has(index))
            return;
        view.clear(index);
        this.availability[index]--;
    }
    /** `peerId` disconnected. Returns the pieces it had in flight, now free to request elsewhere. */
    peerGone(peerId) {
        this.dropPeerPieces(peerId);
        this.peers.delete(peerId);
        const pending = [...(this.inFlightByPeer.get(peerId) ?? [])];
        for (const index of pending)
            this.dropRequest(peerId, index);
        return pending.sort((a, b) => a - b);
    }
    /** Pieces we lack that no connected, unbanned peer holds: candidates for the origin. */
    missingWithNoPeer() {
        const banned = [...this.peers].filter(([peerId]) => this.isBanned(peerId)).map(([, view]) => view);
        const result = [];
        for (let index = 0; index < this.pieceCount; index++) {
            if (this.own.has(index))
                continue;
            const bannedHolders = banned.reduce((sum, view) => sum + (view.has(index) ? 1 : 0), 0);
            if (this.availability[index] - bannedHolders === 0)
                result.push(index);
        }
        return result;
    }
    // ---- choosing -------------------------------------------------------------------------
    /**
     * The piece to request from `peerId` now, or undefined (peer unknown or banned, its pipeline
     * full, or nothing it holds is worth asking for). In order of preference:
     * 1. a wanted piece nobody is fetching, lowest index first;
     * 2. the rarest piece nobody is fetching, random among equally rare ones;
     * 3. in endgame only, a piece already in flight from other peers (fewer than
     *    `maxRequestersPerPiece` of them): wanted first, then fewest requesters, then the oldest
     *    request — the one most likely stuck behind a slow peer.
     * Never a piece we hold, the peer lacks, or the peer is already fetching for us.
     */
    next(peerId) {
        const view = this.peers.get(peerId);
        if (view === undefined || this.own.complete || this.isBanned(peerId))
            return undefined;
        if (this.inFlightCount(peerId) >= this.maxInFlightPerPeer)
            return undefined;
        return this.pickWanted(view) ?? this.pickRarest(view) ?? (this.endgame ? this.pickDuplicate(peerId, view) : undefined);
    }
    // ---- requests -------------------------------------------------------------------------
    /** A request for `index` was sent to `peerId`. Ignored when we already hold the piece. */
    requested(peerId, index) {
        this.check(index);
        if (this.own.has(index))
            return;
        let requesters = this.inFlight.get(index);
        if (requesters === undefined)
            this.inFlight.set(index, requesters = new Map());
        if (requesters.has(peerId))
            return;
        requesters.set(peerId, this.now());
        let pieces = this.inFlightByPeer.get(peerId);
        if (pieces === undefined)
            this.inFlightByPeer.set(peerId, pieces = new Set());
        pieces.add(index);
    }
    /**
     * `peerId` delivered a verified `index`. Returns the other peers that had the same piece in
     * flight (endgame duplicates) so the caller can cancel them; [] when there were none.
     */
    completed(peerId, index) {
        return this.held(index).filter(other => other !== peerId);
    }
    /**
     * The request for `index` from `peerId` failed; the piece is free to request again. A
     * `refused` piece is also dropped from our view of that peer (see `peerLacks`). Banning is
     * PeerScores' job: report the same failure there.
     */
    failed(peerId, index, reason) {
        this.check(index);
        this.dropRequest(peerId, index);
        if (reason === 'refused')
            this.peerLacks(peerId, index);
    }
    /** Requests older than `requestTimeoutMs`, oldest first. Report each with `failed(…, 'timeout')`. */
    expired() {
        const deadline = this.now() - this.requestTimeoutMs;
        const result = [];
        for (const [index, requesters] of this.inFlight) {
            for (const [peerId, since] of requesters)
                if (since <= deadline)
                    result.push({ peerId, index, since });
        }
        return result.sort((a, b) => a.since - b.since || a.index - b.index);
    }
    /** Requests outstanding at `peerId`. */
    inFlightCount(peerId) {
        return this.inFlightByPeer.get(peerId)?.size ?? 0;
    }
    // ---- internals ------------------------------------------------------------------------
    pickWanted(view) {
        let best;
        for (const index of this.wantedPieces) {
            if (view.has(index) && !this.inFlight.has(index) && (best === undefined || index < best))
                best = index;
        }
        return best;
    }
    pickRarest(view) {
        let rarest = Number.POSITIVE_INFINITY;
        let ties = [];
        for (let index = 0; index < this.pieceCount; index++) {
            if (this.own.has(index) || !view.has(index) || this.inFlight.has(index))
                continue;
            const count = this.availability[index];
            if (count < rarest) {
                rarest = count;
                ties = [index];
            }
            else if (count === rarest) {
                ties.push(index);
            }
        }
        if (ties.length === 0)
            return undefined;
        return ties[Math.min(ties.length - 1, Math.floor(this.random() * ties.length))];
    }
    pickDuplicate(peerId, view) {
        let best;
        for (const [index, requesters] of this.inFlight) {
            if (!view.has(index) || requesters.has(peerId) || requesters.size >= this.maxRequestersPerPiece)
                continue;
            const candidate = { index, wanted: this.wantedPieces.has(index), requesters: requesters.size, oldest: Math.min(...requesters.values()) };
            if (best === undefined || ranksBefore(candidate, best))
                best = candidate;
        }
        return best?.index;
    }
    isBanned(peerId) {
        return this.scores?.isBanned(peerId) === true;
    }
    view(peerId) {
        let view = this.peers.get(peerId);
        if (view === undefined)
            this.peers.set(peerId, view = new Bitmap(this.pieceCount));
        return view;
    }
    dropPeerPieces(peerId) {
        const view = this.peers.get(peerId);
        if (view === undefined)
            return;
        for (let index = 0; index < this.pieceCount; index++)
            if (view.has(index))
                this.availability[index]--;
    }
    dropRequest(peerId, index) {
        const requesters = this.inFlight.get(index);
        if (requesters?.delete(peerId) === true && requesters.size === 0)
            this.inFlight.delete(index);
        this.forgetRequest(peerId, index);
    }
    forgetRequest(peerId, index) {
        const pieces = this.inFlightByPeer.get(peerId);
        if (pieces?.delete(index) === true && pieces.size === 0)
            this.inFlightByPeer.delete(peerId);
    }
    check(index) {
        if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount)
            throw new RangeError(`piece ${index} outside 0..${this.pieceCount - 1}`);
    }
}
/** Endgame preference: wanted, then fewest requesters, then oldest request, then lowest index. */
function ranksBefore(a, b) {
    if (a.wanted !== b.wanted)
        return a.wanted;
    if (a.requesters !== b.requesters)
        return a.requesters < b.requesters;
    if (a.oldest !== b.oldest)
        return a.oldest < b.oldest;
    return a.index < b.index;
}
function copy(bitmap) {
    return Bitmap.fromBase64(bitmap.size, bitmap.toBase64());
}
//# sourceMappingURL=piece-picker.js.map